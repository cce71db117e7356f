import { codeOf, GqlResult, TestApp } from './support/app';
import { CHECKIN, CHECKOUT, createPool, LeaseShape } from './support/catalog';
import { ApiProcess, startApi } from './support/processes';

// Read when the app (and the spawned API) boot: a pool of this file holds at most two waiters.
process.env.QUEUE_MAX_PER_POOL = '2';

const QUOTE = 'query($p: ID!, $a: String!) { quote(poolId: $p, app: $a) { queueLength } }';

/** QUEUE_MAX_PER_POOL: the pool's fair queue is bounded in Redis, so the bound holds across API processes. */
describe('fair queue bound per pool', () => {
  let t: TestApp;
  let api: ApiProcess;
  let adminKey: string;

  beforeAll(async () => {
    [t, api] = await Promise.all([TestApp.start(), startApi()]);
    ({ adminKey } = await t.organization('queue-bound'));
  });

  afterAll(async () => {
    await Promise.all([t?.close(), api?.stop()]);
  });

  const checkout = (key: string, input: Record<string, unknown>) => t.gql<{ checkout: LeaseShape }>(key, CHECKOUT, { input });
  const untilQueued = async (poolId: string, app: string, n: number) => {
    for (let i = 0; i < 100; i++) {
      if ((await t.gql<{ quote: { queueLength: number } }>(adminKey, QUOTE, { p: poolId, a: app })).data!.quote.queueLength === n) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`queue of pool ${poolId} never reached ${n}`);
  };

  it('refuses a waiting check-out with RATE_LIMITED once the pool holds QUEUE_MAX_PER_POOL waiters, counting those of another process', async () => {
    const pool = await createPool(t, adminKey, {
      cap: 2,
      apps: [
        { key: 'all', cost: 2 },
        { key: 'seat', cost: 1 },
      ],
    });
    const seat = pool.keyOf('seat');
    const held = (await checkout(adminKey, { poolId: pool.poolId, app: pool.keyOf('all') })).data!.checkout;
    const first = await t.principalWithKey(adminKey, 'CLIENT');
    const second = await t.principalWithKey(adminKey, 'CLIENT');
    const third = await t.principalWithKey(adminKey, 'CLIENT');
    const here: Promise<GqlResult<{ checkout: LeaseShape }>> = checkout(first.key, { poolId: pool.poolId, app: seat, waitSeconds: 60 });
    await untilQueued(pool.poolId, seat, 1);
    const there = api.gql(second.key, CHECKOUT, { input: { poolId: pool.poolId, app: seat, waitSeconds: 60 } });
    await untilQueued(pool.poolId, seat, 2);
    const refused = await checkout(third.key, { poolId: pool.poolId, app: seat, waitSeconds: 1 });
    expect(codeOf(refused)).toBe('RATE_LIMITED');
    expect(refused.errors![0].message).toContain('QUEUE_MAX_PER_POOL');
    expect(refused.errors![0].extensions).toMatchObject({ queueLength: 2 });
    expect(refused.errors![0].extensions.retryAfterSeconds).toBeGreaterThan(0);
    // Without waitSeconds the same request is refused for credits, as always.
    expect(codeOf(await checkout(third.key, { poolId: pool.poolId, app: seat }))).toBe('POOL_EXHAUSTED');
    await t.gql(adminKey, CHECKIN, { id: held.id });
    const [a, b] = await Promise.all([here, there]);
    expect([a.data?.checkout.credits, (b.body.data?.checkout as { credits: number } | undefined)?.credits]).toEqual([1, 1]);
  });
});
