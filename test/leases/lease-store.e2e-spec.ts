import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { LeaseStore } from '../../src/lease-engine/lease-store';
import {
  AppMirror,
  CheckoutInput,
  CheckoutResult,
  DrawEndedEvent,
  Granted,
  GroupMirror,
  PoolEvent,
  RestoredLease,
} from '../../src/lease-engine/lease-store.types';
import { unlinkPrefix } from '../support/redis-keys';

// Talks to the shared Redis under its own prefix, and removes only its own keys.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `tptest:store:${randomUUID().slice(0, 8)}`;

const solo = (cost: number, lingerMs = 0): AppMirror => ({ appId: `solo${cost}-${lingerMs}`, cost, shareScope: 'NONE', lingerMs });

describe('LeaseStore (Redis)', () => {
  let redis: Redis;
  let store: LeaseStore;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    store = new LeaseStore(redis, PREFIX);
  });

  afterAll(async () => {
    await unlinkPrefix(redis, PREFIX);
    await redis.quit();
  });

  async function newPool(cap: number, apps: AppMirror[], groups: GroupMirror[] = []): Promise<string> {
    const poolId = randomUUID();
    await store.install(poolId, { epoch: 1, cap, apps, groups, leases: [], graceMs: 0 });
    return poolId;
  }

  function request(poolId: string, app: AppMirror, more: Partial<CheckoutInput> = {}): CheckoutInput {
    return {
      poolId,
      requestId: randomUUID(),
      leaseId: randomUUID(),
      appId: app.appId,
      principalId: 'alice',
      team: null,
      host: null,
      workUnitId: null,
      leaseMs: 60_000,
      ...more,
    };
  }

  async function grant(input: CheckoutInput): Promise<Granted> {
    const result = await store.checkout(input);
    if (result.status !== 'GRANTED') throw new Error(`expected GRANTED, got ${JSON.stringify(result)}`);
    return result;
  }

  async function events(poolId: string): Promise<PoolEvent[]> {
    return store.readEvents({ poolId, group: `g-${randomUUID()}`, consumer: 'c', count: 1000 });
  }

  /** Sums the costs of the pool's draw records (state field "d|<drawId>" -> "refs|lingerUntil|team|cost|..."). */
  async function heldDraws(poolId: string): Promise<number> {
    const state = await redis.hgetall(store.keys(poolId).state);
    return Object.entries(state)
      .filter(([field]) => field.startsWith('d|'))
      .reduce((sum, [, packed]) => sum + Number(packed.split('|')[3]), 0);
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('grants a lease and counts its draw in inUse', async () => {
    const app = solo(3);
    const poolId = await newPool(10, [app]);
    const lease = await grant(request(poolId, app));
    expect(lease).toMatchObject({ credits: 3, inUse: 3, drawAction: 'OPENED', replayed: false });
    expect(lease.expiresAtMs - lease.acquiredAtMs).toBe(60_000);
    expect(await store.status(poolId)).toEqual({ epoch: '1', cap: 10, inUse: 3, activeLeases: 1, reservedUnused: 0, queued: 0 });
  });

  it('answers UNKNOWN_APP for an app missing from the mirror', async () => {
    const poolId = await newPool(10, [solo(3)]);
    expect(await store.checkout(request(poolId, solo(4)))).toEqual({ status: 'UNKNOWN_APP' });
  });

  it('refuses a check-out over the cap with requested, available and retryAfterMs', async () => {
    const app = solo(4);
    const poolId = await newPool(10, [app]);
    await grant(request(poolId, app, { leaseMs: 30_000 }));
    await grant(request(poolId, app, { leaseMs: 60_000 }));
    const refused = await store.checkout(request(poolId, app));
    expect(refused).toMatchObject({ status: 'POOL_EXHAUSTED', requested: 4, available: 2 });
    const retryAfterMs = (refused as { retryAfterMs: number }).retryAfterMs;
    expect(retryAfterMs).toBeGreaterThan(29_000);
    expect(retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('queues a refused waiter, sets its credits aside for it, and drops it when it leaves or stops refreshing', async () => {
    const app = solo(4);
    const poolId = await newPool(10, [app]);
    await grant(request(poolId, app));
    const wide = solo(8);
    await store.configure(poolId, { version: '1', cap: 10, apps: [wide], groups: [] });
    const waiter = request(poolId, wide, { waitMs: 60_000 });
    expect(await store.checkout(waiter)).toMatchObject({ status: 'POOL_EXHAUSTED', available: 6, queuedAhead: 0 });
    // A newcomer queues behind the waiter's 8 credits: none of the 6 free ones are its.
    expect(await store.checkout(request(poolId, app))).toMatchObject({ status: 'POOL_EXHAUSTED', available: 0, queuedAhead: 1 });
    expect(await store.status(poolId)).toMatchObject({ queued: 1 });
    expect(await store.leaveQueue({ poolId, leaseId: waiter.leaseId, principalId: 'alice' })).toBe(true);
    expect(await store.leaveQueue({ poolId, leaseId: waiter.leaseId, principalId: 'alice' })).toBe(false);
    expect(await store.checkout(request(poolId, app))).toMatchObject({ status: 'GRANTED' });
    const lapsing = request(poolId, wide, { waitMs: 50 });
    expect(await store.checkout(lapsing)).toMatchObject({ status: 'POOL_EXHAUSTED' });
    await new Promise((r) => setTimeout(r, 100));
    await store.sweep(poolId);
    expect(await store.status(poolId)).toMatchObject({ queued: 0 });
  });

  it('refuses a waiting check-out whose cost exceeds the cap at once and leaves no ticket', async () => {
    const wide = solo(12);
    const poolId = await newPool(10, [wide]);
    const refused = await store.checkout(request(poolId, wide, { waitMs: 60_000 }));
    expect(refused).toMatchObject({ status: 'POOL_EXHAUSTED', requested: 12, available: 10, neverFits: true });
    expect(await store.status(poolId)).toMatchObject({ queued: 0 });
  });

  it('refuses a waiting check-out above its team ceiling at once and leaves no ticket', async () => {
    const app = solo(5);
    const poolId = await newPool(100, [app], [{ team: 'T', reserved: 0, max: 4 }]);
    const refused = await store.checkout(request(poolId, app, { team: 'T', waitMs: 60_000 }));
    expect(refused).toMatchObject({ status: 'GROUP_LIMIT_REACHED', requested: 5, neverFits: true });
    expect(await store.status(poolId)).toMatchObject({ queued: 0 });
  });

  it('bounds the waiting check-outs of a principal and of a pool, keeping the place of a ticket already queued', async () => {
    const app = solo(2);
    const poolId = await newPool(2, [app]);
    await grant(request(poolId, app));
    const queueBounds = { perPrincipal: 2, perPool: 3 };
    const wait = (principalId: string) => request(poolId, app, { principalId, waitMs: 60_000, queueBounds });
    const alice = [wait('alice'), wait('alice')];
    for (const w of alice) expect(await store.checkout(w)).toMatchObject({ status: 'POOL_EXHAUSTED', neverFits: false });
    expect(await store.checkout(wait('alice'))).toMatchObject({ status: 'QUEUE_FULL', bound: 'PRINCIPAL', limit: 2, queuedAhead: 2 });
    // Alice's waiters try again without losing their places; another principal still queues.
    expect(await store.checkout(alice[1])).toMatchObject({ status: 'POOL_EXHAUSTED', queuedAhead: 1 });
    expect(await store.checkout(wait('bob'))).toMatchObject({ status: 'POOL_EXHAUSTED', queuedAhead: 2 });
    const refused = await store.checkout(wait('carol'));
    expect(refused).toMatchObject({ status: 'QUEUE_FULL', bound: 'POOL', limit: 3, queuedAhead: 3 });
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(await store.status(poolId)).toMatchObject({ queued: 3 });
    // A check-out that does not wait is refused as before, whatever the bounds.
    expect(await store.checkout(request(poolId, app, { principalId: 'carol', queueBounds }))).toMatchObject({ status: 'POOL_EXHAUSTED', queuedAhead: 3 });
    expect(await store.leaveQueue({ poolId, leaseId: alice[0].leaseId, principalId: 'alice' })).toBe(true);
    expect(await store.checkout(wait('alice'))).toMatchObject({ status: 'POOL_EXHAUSTED', queuedAhead: 2 });
  });

  it('checks out, quotes and sweeps a pool with 10,000 waiting tickets without a Lua error', async () => {
    const app = solo(1);
    const poolId = await newPool(1, [app]);
    const held = await grant(request(poolId, app));
    const queueBounds = { perPrincipal: 20_000, perPool: 20_000 };
    const tickets = Array.from({ length: 10_000 }, (_, i) => request(poolId, app, { principalId: `p${i % 100}`, waitMs: 120_000, queueBounds }));
    for (let i = 0; i < tickets.length; i += 250) {
      const results = await Promise.all(tickets.slice(i, i + 250).map((ticket) => store.checkout(ticket)));
      expect(results.every((r) => r.status === 'POOL_EXHAUSTED')).toBe(true);
    }
    expect(await store.checkout(request(poolId, app))).toMatchObject({ status: 'POOL_EXHAUSTED', queuedAhead: 10_000 });
    expect(await store.quote(request(poolId, app))).toMatchObject({ status: 'OK', grantable: false, queuedAhead: 10_000 });
    expect(await store.checkout(tickets[9_999])).toMatchObject({ status: 'POOL_EXHAUSTED', queuedAhead: 9_999 });
    expect(await store.sweep(poolId)).toBe(0);
    expect(await store.status(poolId)).toMatchObject({ queued: 10_000 });
    await store.checkin({ poolId, leaseId: held.leaseId });
    // The head gets the freed credit; the last ticket still waits behind the rest.
    expect(await store.checkout(tickets[9_999])).toMatchObject({ status: 'POOL_EXHAUSTED', available: 0, queuedAhead: 9_999 });
    expect(await store.checkout(tickets[0])).toMatchObject({ status: 'GRANTED' });
    expect(await store.status(poolId)).toMatchObject({ queued: 9_999, inUse: 1 });
  }, 120_000);

  it('drops thousands of lapsed tickets in bounded steps, on a sweep and on a check-out that walks past them', async () => {
    const app = solo(1);
    const poolId = await newPool(1, [app]);
    const held = await grant(request(poolId, app));
    const queueBounds = { perPrincipal: 5_000, perPool: 5_000 };
    // Every other waiter stops refreshing at once (a 1 ms ticket): its ticket lapses.
    const tickets = Array.from({ length: 3_000 }, (_, i) =>
      request(poolId, app, { principalId: `p${i % 10}`, waitMs: i % 2 === 0 ? 120_000 : 1, queueBounds }),
    );
    for (let i = 0; i < tickets.length; i += 250) await Promise.all(tickets.slice(i, i + 250).map((ticket) => store.checkout(ticket)));
    await sleep(20);
    await store.sweep(poolId);
    expect(await store.status(poolId)).toMatchObject({ queued: 1_500 });
    // The live ones leave; a newcomer then walks past the rest, lapsed too, and gets the credit.
    const lapsing = Array.from({ length: 1_500 }, () =>
      request(poolId, app, { principalId: 'late', waitMs: 1, queueBounds: { perPrincipal: 5_000, perPool: 5_000 } }),
    );
    for (let i = 0; i < lapsing.length; i += 250) await Promise.all(lapsing.slice(i, i + 250).map((ticket) => store.checkout(ticket)));
    for (let i = 0; i < tickets.length; i += 2) await store.leaveQueue({ poolId, leaseId: tickets[i].leaseId, principalId: tickets[i].principalId });
    await sleep(20);
    await store.checkin({ poolId, leaseId: held.leaseId });
    expect(await store.checkout(request(poolId, app))).toMatchObject({ status: 'GRANTED' });
    expect(await store.status(poolId)).toMatchObject({ queued: 0 });
  }, 120_000);

  it('grants a check-out that exactly fills the cap', async () => {
    const app = solo(5);
    const poolId = await newPool(10, [app]);
    await grant(request(poolId, app));
    expect(await grant(request(poolId, app))).toMatchObject({ credits: 5, inUse: 10 });
  });

  it('frees the credits at check-in and records the end of the draw', async () => {
    const app = solo(10);
    const poolId = await newPool(10, [app]);
    const lease = await grant(request(poolId, app));
    expect(await store.checkin({ poolId, leaseId: lease.leaseId })).toEqual({ status: 'ENDED', drawEnded: true, lingerUntilMs: null });
    expect((await store.status(poolId)).inUse).toBe(0);
    const [ended] = await events(poolId);
    expect(ended).toMatchObject({ type: 'draw_ended', drawId: lease.drawId, openerLeaseId: lease.leaseId, appId: app.appId, cost: 10 });
    expect((ended as DrawEndedEvent).endedAtMs).toBeGreaterThanOrEqual(lease.acquiredAtMs);
    expect((ended as DrawEndedEvent).endedAtMs).toBeLessThan(lease.expiresAtMs);
    await grant(request(poolId, app));
  });

  it('answers NOT_ACTIVE to a second check-in of the same lease', async () => {
    const app = solo(2);
    const poolId = await newPool(10, [app]);
    const lease = await grant(request(poolId, app));
    await store.checkin({ poolId, leaseId: lease.leaseId });
    expect(await store.checkin({ poolId, leaseId: lease.leaseId })).toEqual({ status: 'NOT_ACTIVE' });
  });

  it('revokes a lease without linger', async () => {
    const app = solo(2, 60_000);
    const poolId = await newPool(10, [app]);
    const lease = await grant(request(poolId, app));
    expect(await store.revoke({ poolId, leaseId: lease.leaseId })).toEqual({ status: 'ENDED', drawEnded: true, lingerUntilMs: null });
    expect((await store.status(poolId)).inUse).toBe(0);
  });

  it('extends a lease on heartbeat, past its first expiry', async () => {
    const app = solo(1);
    const poolId = await newPool(10, [app]);
    const lease = await grant(request(poolId, app, { leaseMs: 400 }));
    await sleep(250);
    const beat = await store.heartbeat({ poolId, leaseId: lease.leaseId });
    expect(beat.status).toBe('OK');
    expect((beat as { expiresAtMs: number }).expiresAtMs).toBeGreaterThanOrEqual(lease.expiresAtMs + 200);
    await sleep(250); // past the first expiry, within the extended one
    expect((await store.heartbeat({ poolId, leaseId: lease.leaseId })).status).toBe('OK');
  });

  it('answers NOT_ACTIVE to a heartbeat after expiry and never revives the lease', async () => {
    const app = solo(3);
    const poolId = await newPool(10, [app]);
    const lease = await grant(request(poolId, app, { leaseMs: 300 }));
    await sleep(400);
    expect(await store.heartbeat({ poolId, leaseId: lease.leaseId })).toEqual({ status: 'NOT_ACTIVE' });
    expect(await store.heartbeat({ poolId, leaseId: lease.leaseId, leaseMs: 60_000 })).toEqual({ status: 'NOT_ACTIVE' });
    expect(await store.checkin({ poolId, leaseId: lease.leaseId })).toEqual({ status: 'NOT_ACTIVE' });
    expect(await store.status(poolId)).toMatchObject({ inUse: 0, activeLeases: 0 });
  });

  it('records an expired lease on the events stream exactly once', async () => {
    const app = solo(3);
    const poolId = await newPool(10, [app]);
    const lease = await grant(request(poolId, app, { leaseMs: 300 }));
    await sleep(400);
    expect(await store.sweep(poolId)).toBe(1);
    expect(await store.heartbeat({ poolId, leaseId: lease.leaseId })).toEqual({ status: 'NOT_ACTIVE' });
    await store.sweep(poolId);
    await grant(request(poolId, app));
    const recorded = await events(poolId);
    expect(recorded.filter((e) => e.type === 'lease_expired')).toEqual([expect.objectContaining({ leaseId: lease.leaseId, atMs: lease.expiresAtMs })]);
    expect(recorded.filter((e) => e.type === 'draw_ended')).toEqual([
      expect.objectContaining({ drawId: lease.drawId, openerLeaseId: lease.leaseId, cost: 3, endedAtMs: lease.expiresAtMs }),
    ]);
  });

  it('answers NOT_ACTIVE to a check-in after expiry and records only the expiry', async () => {
    const app = solo(3);
    const poolId = await newPool(10, [app]);
    const lease = await grant(request(poolId, app, { leaseMs: 300 }));
    await sleep(400);
    expect(await store.checkin({ poolId, leaseId: lease.leaseId })).toEqual({ status: 'NOT_ACTIVE' });
    expect(await store.revoke({ poolId, leaseId: lease.leaseId })).toEqual({ status: 'NOT_ACTIVE' });
    expect(await store.status(poolId)).toMatchObject({ inUse: 0, activeLeases: 0 });
    expect((await events(poolId)).map((e) => (e.type === 'draw_ended' ? [e.type, e.endedAtMs] : [e.type, e.atMs]))).toEqual([
      ['lease_expired', lease.expiresAtMs],
      ['draw_ended', lease.expiresAtMs],
    ]);
  });

  it('hands out strictly rising fencing tokens, larger again after a re-install with a larger epoch', async () => {
    const app = solo(1);
    const poolId = await newPool(100, [app]);
    const tokens: bigint[] = [];
    for (let i = 0; i < 5; i++) tokens.push(BigInt((await grant(request(poolId, app))).fencingToken));
    await store.install(poolId, { epoch: 2, cap: 100, apps: [app], groups: [], leases: [], graceMs: 0 });
    tokens.push(BigInt((await grant(request(poolId, app))).fencingToken));
    for (let i = 1; i < tokens.length; i++) expect(tokens[i] > tokens[i - 1]).toBe(true);
  });

  it('loads its Redis functions again after Redis lost them', async () => {
    const app = solo(1);
    const poolId = await newPool(10, [app]);
    // Not FUNCTION FLUSH, which would drop other libraries of the shared Redis: only the lease
    // libraries (of any version; every LeaseStore loads its own again when it needs it).
    const libraries = (await redis.call('FUNCTION', 'LIST', 'LIBRARYNAME', 'tokenpool_leases_*')) as string[][];
    for (const library of libraries) await redis.call('FUNCTION', 'DELETE', library[1]);
    await Promise.all([grant(request(poolId, app)), grant(request(poolId, app))]);
    expect(await store.status(poolId)).toMatchObject({ inUse: 2, activeLeases: 2 });
  });

  it('answers UNAVAILABLE to checkout, heartbeat and check-in when the epoch is missing', async () => {
    const app = solo(1);
    const poolId = await newPool(10, [app]);
    const lease = await grant(request(poolId, app));
    await redis.hdel(store.keys(poolId).state, 'epoch');
    expect(await store.checkout(request(poolId, app))).toEqual({ status: 'UNAVAILABLE' });
    expect(await store.heartbeat({ poolId, leaseId: lease.leaseId })).toEqual({ status: 'UNAVAILABLE' });
    expect(await store.checkin({ poolId, leaseId: lease.leaseId })).toEqual({ status: 'UNAVAILABLE' });
    expect(await store.quote({ ...request(poolId, app) })).toEqual({ status: 'UNAVAILABLE' });
  });

  it('replays a repeated lease id: the same lease and a single draw, even with the pool full', async () => {
    const app = solo(4);
    const poolId = await newPool(4, [app]);
    const input = request(poolId, app);
    const first = await grant(input);
    await store.heartbeat({ poolId, leaseId: input.leaseId, leaseMs: 120_000 });
    const again = await grant({ ...input, requestId: randomUUID() });
    expect(again).toEqual({ ...first, replayed: true });
    expect(await store.status(poolId)).toMatchObject({ inUse: 4, activeLeases: 1 });
  });

  it('creates one lease for 50 parallel check-outs with one lease id', async () => {
    const app = solo(2);
    const poolId = await newPool(100, [app]);
    const leaseId = randomUUID();
    const results = await Promise.all(Array.from({ length: 50 }, () => grant(request(poolId, app, { leaseId }))));
    expect(new Set(results.map((r) => r.leaseId)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await store.status(poolId)).toMatchObject({ inUse: 2, activeLeases: 1 });
  });

  it('treats the lease id of an ended lease as a new check-out', async () => {
    const app = solo(2);
    const poolId = await newPool(10, [app]);
    const input = request(poolId, app);
    const first = await grant(input);
    await store.checkin({ poolId, leaseId: input.leaseId });
    const again = await grant(input);
    expect(again).toMatchObject({ leaseId: input.leaseId, replayed: false, drawAction: 'OPENED', inUse: 2 });
    expect(BigInt(again.fencingToken)).toBeGreaterThan(BigInt(first.fencingToken));
  });

  it('gives a new draw another id when the lease id of its opener left a draw behind', async () => {
    const app = solo(3, 400);
    const poolId = await newPool(10, [app]);
    const input = request(poolId, app, { team: 'T' });
    const first = await grant(input);
    await store.checkin({ poolId, leaseId: input.leaseId }); // draw lingers; team U cannot take it over
    const again = await grant({ ...input, team: 'U' });
    expect(again).toMatchObject({ drawAction: 'OPENED', credits: 3, inUse: 6 });
    expect(again.drawId).not.toBe(first.drawId);
    // PostgreSQL records draw ids as UUIDs.
    expect(again.drawId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await sleep(500);
    expect(await store.sweep(poolId)).toBe(1);
    expect(await store.status(poolId)).toMatchObject({ inUse: 3, activeLeases: 1 });
    expect(await heldDraws(poolId)).toBe(3);
    expect(await store.revoke({ poolId, leaseId: input.leaseId })).toMatchObject({ drawEnded: true });
    const ended = (await events(poolId)).filter((e) => e.type === 'draw_ended');
    expect(ended.map((e) => e.type === 'draw_ended' && e.drawId)).toEqual([first.drawId, again.drawId]);
  });

  it('never exceeds the cap under 200 parallel check-outs of random costs', async () => {
    const apps = [1, 2, 3, 5, 8].map((cost) => solo(cost));
    const poolId = await newPool(100, apps);
    const results: CheckoutResult[] = await Promise.all(
      Array.from({ length: 200 }, () => store.checkout(request(poolId, apps[Math.floor(Math.random() * apps.length)]))),
    );
    const granted = results.filter((r): r is Granted => r.status === 'GRANTED');
    const used = granted.reduce((sum, r) => sum + r.credits, 0);
    expect(granted.length).toBeGreaterThan(10);
    expect(results.some((r) => r.status === 'POOL_EXHAUSTED')).toBe(true);
    expect(Math.max(...granted.map((r) => r.inUse))).toBeLessThanOrEqual(100);
    expect(used).toBeLessThanOrEqual(100);
    expect(await heldDraws(poolId)).toBe(used);
    expect((await store.status(poolId)).inUse).toBe(used);
  });

  it('shares one draw among PRINCIPAL_HOST leases and frees it after the last check-in', async () => {
    const app: AppMirror = { appId: 'cad', cost: 6, shareScope: 'PRINCIPAL_HOST', lingerMs: 0 };
    const poolId = await newPool(20, [app]);
    const leases = [];
    for (let i = 0; i < 3; i++) leases.push(await grant(request(poolId, app, { host: 'ws-1' })));
    expect(leases.map((l) => l.credits)).toEqual([6, 0, 0]);
    expect(new Set(leases.map((l) => l.drawId)).size).toBe(1);
    const otherHost = await grant(request(poolId, app, { host: 'ws-2' }));
    expect(otherHost).toMatchObject({ credits: 6, inUse: 12 });

    await store.checkin({ poolId, leaseId: leases[0].leaseId });
    await store.checkin({ poolId, leaseId: leases[1].leaseId });
    expect((await store.status(poolId)).inUse).toBe(12);
    expect(await store.checkin({ poolId, leaseId: leases[2].leaseId })).toMatchObject({ drawEnded: true });
    expect((await store.status(poolId)).inUse).toBe(6);
    const ended = (await events(poolId)).filter((e) => e.type === 'draw_ended');
    expect(ended).toEqual([expect.objectContaining({ drawId: leases[0].drawId, openerLeaseId: leases[0].leaseId, cost: 6 })]);
  });

  it('draws once for 50 leases of one work unit', async () => {
    const app: AppMirror = { appId: 'solver', cost: 5, shareScope: 'WORK_UNIT', lingerMs: 0 };
    const poolId = await newPool(10, [app]);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => grant(request(poolId, app, { principalId: `agent-${i}`, workUnitId: 'run-7' }))));
    expect(results.filter((r) => r.credits === 5)).toHaveLength(1);
    expect(new Set(results.map((r) => r.drawId)).size).toBe(1);
    expect(await store.status(poolId)).toMatchObject({ inUse: 5, activeLeases: 50 });
  });

  it('keeps a reservation for its team: others see only the unreserved credits', async () => {
    const app = solo(10);
    const poolId = await newPool(50, [app], [{ team: 'A', reserved: 30, max: null }]);
    const asB = (more: Partial<CheckoutInput> = {}) => request(poolId, app, { principalId: 'bob', team: 'B', ...more });
    expect(await store.quote(asB())).toEqual({ status: 'OK', cost: 10, grantable: true, available: 20, queuedAhead: 0 });
    await grant(asB());
    await grant(asB());
    expect(await store.checkout(asB())).toMatchObject({ status: 'POOL_EXHAUSTED', requested: 10, available: 0 });
    expect(await store.checkout(request(poolId, app, { principalId: 'nobody' }))).toMatchObject({ status: 'POOL_EXHAUSTED', available: 0 });
    for (let i = 0; i < 3; i++) await grant(request(poolId, app, { team: 'A' }));
    expect(await store.status(poolId)).toMatchObject({ inUse: 50, reservedUnused: 0, queued: 0 });
    expect(await redis.hget(store.keys(poolId).state, 't|A')).toBe('30');
  });

  it('answers GROUP_LIMIT_REACHED to a team at its ceiling while the pool has room', async () => {
    const app = solo(4);
    const poolId = await newPool(100, [app], [{ team: 'T', reserved: 0, max: 10 }]);
    await grant(request(poolId, app, { team: 'T' }));
    await grant(request(poolId, app, { team: 'T' }));
    expect(await store.checkout(request(poolId, app, { team: 'T' }))).toMatchObject({
      status: 'GROUP_LIMIT_REACHED',
      requested: 4,
      available: 2,
    });
    await grant(request(poolId, app, { team: 'U' }));
  });

  it('answers GROUP_LIMIT_REACHED when the pool is exhausted too', async () => {
    const app = solo(4);
    const poolId = await newPool(12, [app], [{ team: 'T', reserved: 0, max: 8 }]);
    await grant(request(poolId, app, { team: 'T' }));
    await grant(request(poolId, app, { team: 'T' }));
    await grant(request(poolId, app, { team: 'U' }));
    expect(await store.checkout(request(poolId, app, { team: 'T' }))).toMatchObject({ status: 'GROUP_LIMIT_REACHED', available: 0 });
    expect(await store.checkout(request(poolId, app, { team: 'U' }))).toMatchObject({ status: 'POOL_EXHAUSTED' });
  });

  it('keeps a checked-in draw in inUse for its linger, then ends it at lingerUntil', async () => {
    const app = solo(3, 400);
    const poolId = await newPool(10, [app]);
    const lease = await grant(request(poolId, app));
    const ended = await store.checkin({ poolId, leaseId: lease.leaseId });
    expect(ended).toMatchObject({ status: 'ENDED', drawEnded: false });
    const lingerUntilMs = (ended as { lingerUntilMs: number }).lingerUntilMs;
    expect(await store.status(poolId)).toMatchObject({ inUse: 3, activeLeases: 0 });
    await sleep(500);
    expect(await store.sweep(poolId)).toBe(1);
    expect((await store.status(poolId)).inUse).toBe(0);
    expect((await events(poolId)).filter((e) => e.type === 'draw_ended')).toEqual([
      expect.objectContaining({ drawId: lease.drawId, endedAtMs: lingerUntilMs }),
    ]);
  });

  it('lets the same principal take a lingering draw over without drawing again', async () => {
    const app = solo(3, 60_000);
    const poolId = await newPool(10, [app]);
    const first = await grant(request(poolId, app));
    await store.checkin({ poolId, leaseId: first.leaseId });
    const again = await grant(request(poolId, app));
    expect(again).toMatchObject({ drawId: first.drawId, credits: 3, inUse: 3, drawAction: 'TAKEN_OVER' });
    expect(await grant(request(poolId, app, { principalId: 'bob' }))).toMatchObject({ drawAction: 'OPENED', inUse: 6 });
    expect(await store.revoke({ poolId, leaseId: again.leaseId })).toMatchObject({ drawEnded: true });
    expect((await store.status(poolId)).inUse).toBe(3);
  });

  it('ignores a configuration older than the one it holds, and writes one of the same version again', async () => {
    const app = solo(4);
    const poolId = await newPool(10, [app]);
    expect(await store.configure(poolId, { version: '3', cap: 7, apps: [], groups: [] })).toEqual({ written: true, version: '3' });
    expect(await store.configure(poolId, { version: '2', cap: 20, apps: [{ ...app, cost: 1 }], groups: [{ team: 'a', reserved: 5, max: null }] })).toEqual({
      written: false,
      version: '3',
    });
    expect(await store.status(poolId)).toMatchObject({ cap: 7, reservedUnused: 0 });
    expect(await grant(request(poolId, app))).toMatchObject({ credits: 4 });
    expect(await store.configure(poolId, { version: '3', cap: 8, apps: [], groups: [] })).toEqual({ written: true, version: '3' });
    expect((await store.status(poolId)).cap).toBe(8);
  });

  it('ends no lease when the cap drops below inUse, and refuses new draws until it fits', async () => {
    const app = solo(4);
    const poolId = await newPool(10, [app]);
    const a = await grant(request(poolId, app));
    const b = await grant(request(poolId, app));
    await store.configure(poolId, { version: '1', cap: 5, apps: [], groups: [] });
    expect(await store.status(poolId)).toMatchObject({ cap: 5, inUse: 8, activeLeases: 2 });
    expect(await store.checkout(request(poolId, app))).toMatchObject({ status: 'POOL_EXHAUSTED', available: 0 });
    await store.checkin({ poolId, leaseId: a.leaseId });
    expect(await store.checkout(request(poolId, app))).toMatchObject({ status: 'POOL_EXHAUSTED', available: 1 });
    await store.checkin({ poolId, leaseId: b.leaseId });
    await grant(request(poolId, app));
  });

  it('restores leases on install with a grace period and recomputes used and teamused', async () => {
    const app: AppMirror = { appId: 'cad', cost: 6, shareScope: 'PRINCIPAL_HOST', lingerMs: 0 };
    const poolId = randomUUID();
    const past = Date.now() - 10_000;
    const restored = (leaseId: string, credits: number): RestoredLease => ({
      leaseId,
      drawId: 'draw-1',
      drawCost: 6,
      drawOpenerLeaseId: 'lease-1',
      drawOpenedAtMs: past - 5000,
      appId: 'cad',
      principalId: 'alice',
      team: 'T',
      host: 'ws-1',
      workUnitId: null,
      credits,
      leaseMs: 60_000,
      acquiredAtMs: past,
      fencingToken: '1000000000007',
      expiresAtMs: past,
    });
    const result = await store.install(poolId, {
      epoch: 2,
      cap: 20,
      apps: [app],
      groups: [{ team: 'T', reserved: 10, max: null }],
      leases: [restored('lease-1', 6), restored('lease-2', 0)],
      graceMs: 5000,
    });
    expect(result).toEqual({ leasesRestored: 2, drawsRestored: 1, inUse: 6 });
    expect(await store.status(poolId)).toEqual({ epoch: '2', cap: 20, inUse: 6, activeLeases: 2, reservedUnused: 4, queued: 0 });
    expect(await redis.hget(store.keys(poolId).state, 't|T')).toBe('6');
    expect((await store.heartbeat({ poolId, leaseId: 'lease-1' })).status).toBe('OK');
    const joined = await grant(request(poolId, app, { team: 'T', host: 'ws-1' }));
    expect(joined).toMatchObject({ drawId: 'draw-1', credits: 0, inUse: 6 });
    expect(BigInt(joined.fencingToken)).toBeGreaterThan(BigInt('1000000000007'));
  });

  it('quotes what the next check-out gets', async () => {
    const big = solo(6);
    const shared: AppMirror = { appId: 'viewer', cost: 3, shareScope: 'PRINCIPAL', lingerMs: 0 };
    const poolId = await newPool(10, [big, shared]);
    const quoteOf = (app: AppMirror) => store.quote(request(poolId, app));

    expect(await quoteOf(big)).toEqual({ status: 'OK', cost: 6, grantable: true, available: 10, queuedAhead: 0 });
    expect(await grant(request(poolId, big))).toMatchObject({ credits: 6 });
    expect(await quoteOf(big)).toEqual({ status: 'OK', cost: 6, grantable: false, available: 4, queuedAhead: 0 });
    expect(await store.checkout(request(poolId, big))).toMatchObject({ status: 'POOL_EXHAUSTED', requested: 6 });
    expect(await quoteOf(shared)).toEqual({ status: 'OK', cost: 3, grantable: true, available: 4, queuedAhead: 0 });
    expect(await grant(request(poolId, shared))).toMatchObject({ credits: 3 });
    expect(await quoteOf(shared)).toEqual({ status: 'OK', cost: 0, grantable: true, available: 1, queuedAhead: 0 });
    expect(await grant(request(poolId, shared))).toMatchObject({ credits: 0, drawAction: 'JOINED' });
  });
});
