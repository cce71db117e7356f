import { Logger } from '@nestjs/common';
import { appendRun, HeartbeatRun, HeartbeatWriteBehind, MAX_RUNS_PER_LEASE, writeRounds } from './heartbeat-write-behind';

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
const run = (idle: boolean, first: number, last = first, leaseId = 'a'): HeartbeatRun => ({
  leaseId,
  idle,
  firstAt: t(first),
  lastAt: t(last),
  expiresAt: t(last + 60),
});
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;

describe('heartbeat runs', () => {
  it('merges heartbeats with the same idle flag into one run from the first to the last', () => {
    let runs: HeartbeatRun[] = [];
    for (const [idle, at] of [
      [false, 1],
      [false, 2],
      [true, 3],
      [true, 4],
      [false, 5],
    ] as const)
      runs = appendRun(runs, run(idle, at));
    expect(runs).toEqual([run(false, 1, 2), run(true, 3, 4), run(false, 5)]);
  });

  it('keeps a bounded number of runs per lease, dropping the oldest but never an expiry', () => {
    let runs: HeartbeatRun[] = [{ ...run(true, 0), expiresAt: t(10_000) }];
    for (let i = 1; i <= MAX_RUNS_PER_LEASE; i++) runs = appendRun(runs, run(i % 2 === 0, i));
    expect(runs).toHaveLength(MAX_RUNS_PER_LEASE);
    expect(runs[0].firstAt).toEqual(t(1));
    expect(runs[0].expiresAt).toEqual(t(10_000));
  });

  it('writes every lease in rounds, each lease its runs in order', () => {
    const pending = new Map([
      ['a', [run(false, 1, 1, 'a'), run(true, 2, 2, 'a')]],
      ['b', [run(true, 1, 3, 'b')]],
    ]);
    expect(writeRounds(pending)).toEqual([[run(false, 1, 1, 'a'), run(true, 1, 3, 'b')], [run(true, 2, 2, 'a')]]);
  });
});

describe('HeartbeatWriteBehind', () => {
  it('keeps what PostgreSQL could not take, before newer heartbeats of the same lease, and writes it when it answers', async () => {
    const written: HeartbeatRun[][] = [];
    let down = true;
    const writes = new HeartbeatWriteBehind({
      everyMs: 60_000,
      logger: quiet,
      write: async (runs) => {
        if (down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        written.push(runs);
      },
    });
    try {
      writes.add({ leaseId: 'a', idle: true, at: t(1), expiresAt: t(61) }, false);
      await writes.flush();
      expect(written).toEqual([]);
      writes.add({ leaseId: 'a', idle: true, at: t(2), expiresAt: t(62) }, false);
      writes.add({ leaseId: 'a', idle: false, at: t(3), expiresAt: t(63) }, false);
      down = false;
      await writes.flushLease('a');
      expect(written).toEqual([[run(true, 1, 2)], [run(false, 3)]]);
      await writes.flush();
      expect(written).toHaveLength(2);
    } finally {
      await writes.close();
    }
  });
});
