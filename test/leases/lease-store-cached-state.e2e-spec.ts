import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { LeaseStore } from '../../src/lease-engine/lease-store';
import { AppMirror, CheckoutInput, Granted } from '../../src/lease-engine/lease-store.types';
import { unlinkPrefix } from '../support/redis-keys';

// What the scripts keep between calls or read instead of scanning: the earliest-expiry bound
// (lexp) that lets a check-out skip looking for expired leases, and the conversions the
// library remembers from call to call. Talks to the shared Redis under its own prefix.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `tptest:store-cache:${randomUUID().slice(0, 8)}`;

const solo = (cost: number): AppMirror => ({ appId: `solo${cost}`, cost, shareScope: 'NONE', lingerMs: 0 });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('LeaseStore cached state (Redis)', () => {
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

  async function newPool(cap: number, apps: AppMirror[]): Promise<string> {
    const poolId = randomUUID();
    await store.install(poolId, { epoch: 1, cap, apps, groups: [], leases: [], graceMs: 0 });
    return poolId;
  }

  function request(poolId: string, app: AppMirror, more: Partial<CheckoutInput> = {}): CheckoutInput {
    const leaseId = randomUUID();
    return { poolId, requestId: leaseId, leaseId, appId: app.appId, principalId: 'alice', team: null, host: null, workUnitId: null, leaseMs: 60_000, ...more };
  }

  async function grant(input: CheckoutInput): Promise<Granted> {
    const result = await store.checkout(input);
    if (result.status !== 'GRANTED') throw new Error(`expected GRANTED, got ${JSON.stringify(result)}`);
    return result;
  }

  it('lets a check-out collect a lease that a heartbeat shortened below the earliest expiry', async () => {
    const app = solo(4);
    const poolId = await newPool(4, [app]);
    const lease = await grant(request(poolId, app));
    expect((await store.heartbeat({ poolId, leaseId: lease.leaseId, leaseMs: 300 })).status).toBe('OK');
    expect(await store.checkout(request(poolId, app))).toMatchObject({ status: 'POOL_EXHAUSTED' });
    await sleep(400);
    // No sweep: the check-out itself finds the shortened lease due and frees its credits.
    expect(await grant(request(poolId, app))).toMatchObject({ inUse: 4 });
    expect(await store.status(poolId)).toMatchObject({ inUse: 4, activeLeases: 1 });
  });

  it('lets a check-out collect the next expiry after the earliest lease was checked in', async () => {
    const app = solo(2);
    const poolId = await newPool(4, [app]);
    const first = await grant(request(poolId, app, { leaseMs: 300 }));
    await grant(request(poolId, app, { leaseMs: 600 }));
    await store.checkin({ poolId, leaseId: first.leaseId });
    await grant(request(poolId, app));
    await sleep(700);
    // The bound still names the checked-in lease's old expiry; passing it must not hide the
    // second lease's, which the check-out collects on its way.
    expect(await grant(request(poolId, app))).toMatchObject({ inUse: 4 });
    expect(await store.status(poolId)).toMatchObject({ inUse: 4, activeLeases: 2 });
    expect(await store.sweep(poolId)).toBe(0);
  });

  it('lets a check-out collect a restored lease once its grace period after a rebuild is over', async () => {
    const app = solo(3);
    const poolId = randomUUID();
    const past = Date.now() - 60_000;
    await store.install(poolId, {
      epoch: 2,
      cap: 3,
      apps: [app],
      groups: [],
      graceMs: 300,
      leases: [
        {
          leaseId: 'restored',
          drawId: 'restored',
          drawCost: 3,
          drawOpenerLeaseId: 'restored',
          drawOpenedAtMs: past,
          appId: app.appId,
          principalId: 'alice',
          team: null,
          host: null,
          workUnitId: null,
          credits: 3,
          leaseMs: 30_000,
          acquiredAtMs: past,
          fencingToken: '2000000000001',
          expiresAtMs: past + 30_000,
        },
      ],
    });
    expect(await store.checkout(request(poolId, app))).toMatchObject({ status: 'POOL_EXHAUSTED', available: 0 });
    await sleep(400);
    expect(await grant(request(poolId, app))).toMatchObject({ inUse: 3 });
  });

  it('follows a changed app cost and cap at once', async () => {
    const app = solo(3);
    const poolId = await newPool(10, [app]);
    expect(await grant(request(poolId, app))).toMatchObject({ credits: 3, inUse: 3 });
    await store.configure(poolId, { version: '2', cap: 10, apps: [{ ...app, cost: 5 }], groups: [] });
    expect(await grant(request(poolId, app))).toMatchObject({ credits: 5, inUse: 8 });
    await store.configure(poolId, { version: '3', cap: 9, apps: [], groups: [] });
    expect(await store.checkout(request(poolId, app))).toMatchObject({ status: 'POOL_EXHAUSTED', requested: 5, available: 1 });
    await store.configure(poolId, { version: '4', cap: 13, apps: [], groups: [] });
    expect(await grant(request(poolId, app))).toMatchObject({ credits: 5, inUse: 13 });
  });

  it('answers the right inUse and availability past the 512 values the library remembers', async () => {
    const app = solo(1);
    const poolId = await newPool(2000, [app]);
    for (let i = 1; i <= 600; i++) {
      const lease = await grant(request(poolId, app));
      expect(lease.inUse).toBe(i);
    }
    for (const [i, cap] of [700, 650, 601, 600].entries()) {
      await store.configure(poolId, { version: String(i + 1), cap, apps: [], groups: [] });
      expect(await store.quote(request(poolId, app))).toMatchObject({ status: 'OK', available: cap - 600, grantable: cap > 600 });
    }
    expect(await store.checkout(request(poolId, app))).toMatchObject({ status: 'POOL_EXHAUSTED', available: 0 });
  });
});
