import { TokenpoolError } from '../src/errors';
import {
  Heartbeater,
  type HeartbeatEntry,
  type HeartbeatLease,
  type HeartbeatResultItem,
  type HeartbeatSubject,
  nextWakeAt,
  planBatches,
} from '../src/heartbeats';

class Subject implements HeartbeatSubject {
  beats: HeartbeatLease[] = [];
  lostWith: TokenpoolError | undefined;
  constructor(
    readonly id: string,
    readonly refreshProof = false,
    readonly idle = false,
  ) {}
  heartbeatSucceeded(lease: HeartbeatLease): void {
    this.beats.push(lease);
  }
  lost(reason: TokenpoolError): void {
    this.lostWith = reason;
  }
}

function entry(
  id: string,
  nextDueAt: number,
  options: { intervalMs?: number; refreshProof?: boolean; idle?: boolean; inFlight?: boolean } = {},
): HeartbeatEntry {
  const intervalMs = options.intervalMs ?? 2_000;
  return {
    subject: new Subject(id, options.refreshProof, options.idle),
    intervalMs,
    leaseMs: intervalMs * 4,
    nextDueAt,
    localExpiresAt: nextDueAt + intervalMs * 3,
    inFlight: options.inFlight ?? false,
    failures: 0,
  };
}

const ids = (batch: { entries: HeartbeatEntry[] }) => batch.entries.map((e) => e.subject.id);

describe('planBatches', () => {
  it('sends nothing until some lease is due', () => {
    expect(planBatches([entry('a', 1_000), entry('b', 1_500)], 999)).toEqual([]);
  });

  it('takes every lease due within half its interval along with the due one', () => {
    const batches = planBatches([entry('a', 1_000), entry('b', 1_900), entry('c', 2_001), entry('d', 5_000)], 1_000);
    expect(batches.map(ids)).toEqual([['a', 'b']]);
    // A lease of a much longer interval is not dragged along by a short one.
    const mixed = planBatches([entry('short', 1_000), entry('long', 1_400, { intervalMs: 75_000 }), entry('later', 40_000, { intervalMs: 75_000 })], 1_000);
    expect(mixed.map(ids)).toEqual([['short', 'long']]);
  });

  it('leaves out leases whose heartbeat is already in flight', () => {
    expect(planBatches([entry('a', 1_000, { inFlight: true }), entry('b', 1_100)], 1_000)).toEqual([]);
    expect(planBatches([entry('a', 1_000), entry('b', 900, { inFlight: true })], 1_000).map(ids)).toEqual([['a']]);
  });

  it('makes 2 calls of at most 500 for 1,000 leases, and separate calls for leases that refresh their proof', () => {
    const many = Array.from({ length: 1_000 }, (_, i) => entry(`l${i}`, 1_000 + (i % 900)));
    const batches = planBatches(many, 1_000);
    expect(batches.map((b) => b.entries.length)).toEqual([500, 500]);
    expect(new Set(batches.flatMap(ids)).size).toBe(1_000);
    const proofs = [...many.slice(0, 700), ...Array.from({ length: 300 }, (_, i) => entry(`p${i}`, 1_000, { refreshProof: true }))];
    const split = planBatches(proofs, 1_000);
    expect(split.map((b) => [b.withProof, b.entries.length])).toEqual([
      [false, 500],
      [false, 200],
      [true, 300],
    ]);
    const idle = planBatches([entry('a', 1_000), entry('b', 1_000, { idle: true }), entry('c', 1_000, { idle: true })], 1_000);
    expect(idle.map((b) => [b.idle, ids(b)])).toEqual([
      [false, ['a']],
      [true, ['b', 'c']],
    ]);
  });

  it('wakes at the earliest due time, or at the local expiry of a lease in flight', () => {
    expect(nextWakeAt([entry('a', 3_000), entry('b', 2_000)])).toBe(2_000);
    expect(nextWakeAt([entry('a', 3_000), entry('b', 2_000, { inFlight: true })])).toBe(3_000);
    expect(nextWakeAt([entry('b', 2_000, { inFlight: true })])).toBe(8_000);
    expect(nextWakeAt([])).toBeUndefined();
  });
});

describe('Heartbeater', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  type Reply = (ids: string[]) => HeartbeatResultItem[] | Error;
  function setup(reply: Reply) {
    const calls: { ids: string[]; withProof: boolean; at: number }[] = [];
    const heartbeater = new Heartbeater({
      send: async (leaseIds, { withProof }) => {
        calls.push({ ids: leaseIds, withProof, at: Date.now() });
        const answer = reply(leaseIds);
        if (answer instanceof Error) throw answer;
        return answer;
      },
      random: () => 0,
    });
    return { calls, heartbeater };
  }
  const ok = (leaseIds: string[]): HeartbeatResultItem[] =>
    leaseIds.map((id) => ({ leaseId: id, code: null, state: null, lease: { id, leaseSeconds: 8, expiresAt: new Date(Date.now() + 8_000).toISOString() } }));

  it('puts leases checked out at different moments on one rhythm: one call per interval', async () => {
    const { calls, heartbeater } = setup(ok);
    const subjects = Array.from({ length: 40 }, (_, i) => new Subject(`l${i}`));
    // Check-outs spread over 1.9 s, leases of 8 s (interval 2 s).
    for (const [i, s] of subjects.entries()) heartbeater.add(s, 8, Date.now() + i * 50);
    await jest.advanceTimersByTimeAsync(4_100);
    calls.length = 0;
    await jest.advanceTimersByTimeAsync(8_000);
    expect(calls.length).toBe(4);
    for (const call of calls) expect(call.ids).toHaveLength(40);
    expect(subjects.every((s) => s.beats.length >= 5)).toBe(true);
    heartbeater.close();
  });

  it('aborts only the lease the server says has ended, with its state', async () => {
    const { heartbeater } = setup((leaseIds) =>
      leaseIds.map((id) => (id === 'revoked' ? { leaseId: id, code: 'LEASE_NOT_ACTIVE', state: 'REVOKED', lease: null } : ok([id])[0])),
    );
    const kept = new Subject('kept');
    const revoked = new Subject('revoked');
    heartbeater.add(kept, 8, Date.now());
    heartbeater.add(revoked, 8, Date.now());
    await jest.advanceTimersByTimeAsync(2_100);
    expect(revoked.lostWith).toMatchObject({ code: 'LEASE_NOT_ACTIVE', state: 'REVOKED' });
    expect(kept.lostWith).toBeUndefined();
    expect(heartbeater.size).toBe(1);
    heartbeater.close();
  });

  it('retries a failed call quickly, not a quarter later', async () => {
    let fail = 2;
    const { calls, heartbeater } = setup((leaseIds) => (fail-- > 0 ? new TokenpoolError('UNAVAILABLE', 'down') : ok(leaseIds)));
    const s = new Subject('a');
    heartbeater.add(s, 8, Date.now());
    await jest.advanceTimersByTimeAsync(2_000 + 1_000);
    expect(calls.length).toBe(3);
    expect(calls[1].at - calls[0].at).toBeLessThan(600);
    expect(s.beats).toHaveLength(1);
    expect(s.lostWith).toBeUndefined();
    heartbeater.close();
  });

  it('loses a lease with LEASE_LOST at its local expiry when no heartbeat got through', async () => {
    const { heartbeater } = setup(() => new TokenpoolError('UNAVAILABLE', 'down'));
    const s = new Subject('a');
    const start = Date.now();
    heartbeater.add(s, 8, start);
    await jest.advanceTimersByTimeAsync(7_900);
    expect(s.lostWith).toBeUndefined();
    await jest.advanceTimersByTimeAsync(200);
    expect(s.lostWith).toMatchObject({ code: 'LEASE_LOST' });
    expect(s.lostWith?.cause).toMatchObject({ code: 'UNAVAILABLE' });
    expect(heartbeater.size).toBe(0);
  });

  it('loses a lease whose heartbeat call hangs past its expiry', async () => {
    const heartbeater = new Heartbeater({ send: () => new Promise(() => undefined) });
    const s = new Subject('a');
    heartbeater.add(s, 8, Date.now());
    await jest.advanceTimersByTimeAsync(8_100);
    expect(s.lostWith).toMatchObject({ code: 'LEASE_LOST' });
  });
});

describe('Heartbeater.add after a slow check-out', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it('heartbeats at once a lease whose check-out was sent more than a quarter ago, and does not count it lost before that heartbeat answers', async () => {
    const calls: number[] = [];
    const heartbeater = new Heartbeater({
      send: async (leaseIds) => {
        calls.push(Date.now());
        await new Promise((r) => setTimeout(r, 500));
        return leaseIds.map((id) => ({
          leaseId: id,
          code: null,
          state: null,
          lease: { id, leaseSeconds: 8, expiresAt: new Date(Date.now() + 8_000).toISOString() },
        }));
      },
    });
    const s = new Subject('slow');
    heartbeater.add(s, 8, Date.now() - 9_000); // first attempt sent 9 s ago: past its local expiry already
    await jest.advanceTimersByTimeAsync(600);
    expect(calls).toEqual([1_000_000 + 10]);
    expect(s.lostWith).toBeUndefined();
    expect(s.beats).toHaveLength(1);
    heartbeater.close();
  });
});
