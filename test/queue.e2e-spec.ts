import { request as httpRequest } from 'node:http';
import { DataSource } from 'typeorm';
import { codeOf, GqlResult, TestApp } from './support/app';
import { CHECKIN, CHECKOUT, createPool, LeaseShape } from './support/catalog';
import { ApiProcess, startApi } from './support/processes';

const QUOTE = 'query($p: ID!, $a: String!) { quote(poolId: $p, app: $a) { cost grantable available queueLength } }';

/** The fair queue: waitSeconds, first come first served per pool, across processes. */
describe('fair queue', () => {
  let t: TestApp;
  let adminKey: string;

  beforeAll(async () => {
    t = await TestApp.start();
    ({ adminKey } = await t.organization('queue'));
  });

  afterAll(async () => {
    await t.close();
  });

  const checkout = (key: string, input: Record<string, unknown>) => t.gql<{ checkout: LeaseShape }>(key, CHECKOUT, { input });
  const queueLength = async (poolId: string, app: string) =>
    (await t.gql<{ quote: { queueLength: number } }>(adminKey, QUOTE, { p: poolId, a: app })).data!.quote.queueLength;
  /** Polls until the pool's queue holds n tickets (the waiters have arrived, in the order the test made them). */
  const untilQueued = async (poolId: string, app: string, n: number) => {
    for (let i = 0; i < 100; i++) {
      if ((await queueLength(poolId, app)) === n) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`queue of pool ${poolId} never reached ${n}`);
  };

  it('grants a waiting check-out when credits come free', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'solver', cost: 10 }] });
    const app = pool.keyOf('solver');
    const held = (await checkout(adminKey, { poolId: pool.poolId, app })).data!.checkout;
    const waiting = checkout(adminKey, { poolId: pool.poolId, app, waitSeconds: 30 });
    await untilQueued(pool.poolId, app, 1);
    await t.gql(adminKey, CHECKIN, { id: held.id });
    const granted = await waiting;
    expect(granted.data?.checkout.credits).toBe(10);
    expect(await queueLength(pool.poolId, app)).toBe(0);
  });

  it('does not let later small requests overtake a large head: nothing is granted until the head fits', async () => {
    const pool = await createPool(t, adminKey, {
      cap: 12,
      apps: [
        { key: 'big', cost: 8 },
        { key: 'small', cost: 2 },
        { key: 'holder', cost: 6 },
      ],
    });
    const big = pool.keyOf('big');
    const small = pool.keyOf('small');
    const held = (await checkout(adminKey, { poolId: pool.poolId, app: pool.keyOf('holder') })).data!.checkout;
    const order: string[] = [];
    const track = (name: string, p: Promise<GqlResult<{ checkout: LeaseShape }>>) => p.then((r) => (order.push(name), r));
    const head = track('big', checkout(adminKey, { poolId: pool.poolId, app: big, waitSeconds: 30 }));
    await untilQueued(pool.poolId, big, 1);
    // 6 credits are free, enough for the small requests, but the head waits for 8: they queue behind it.
    const s1 = track('small-1', checkout(adminKey, { poolId: pool.poolId, app: small, waitSeconds: 30 }));
    await untilQueued(pool.poolId, big, 2);
    const s2 = track('small-2', checkout(adminKey, { poolId: pool.poolId, app: small, waitSeconds: 30 }));
    await untilQueued(pool.poolId, big, 3);
    // A newcomer that does not wait is refused too, and told how many wait ahead.
    const impatient = await checkout(adminKey, { poolId: pool.poolId, app: small });
    expect(codeOf(impatient)).toBe('POOL_EXHAUSTED');
    expect(impatient.errors![0].extensions).toMatchObject({ available: 0, requested: 2, queueLength: 3 });
    expect(order).toEqual([]);
    await t.gql(adminKey, CHECKIN, { id: held.id });
    // Once the head's 8 are free, the rest (4) serves the small ones, in whichever order they retry.
    const [h, a, b] = await Promise.all([head, s1, s2]);
    expect(order.sort()).toEqual(['big', 'small-1', 'small-2']);
    expect([h, a, b].map((r) => r.data?.checkout.credits)).toEqual([8, 2, 2]);
  });

  it('serves a queue of mixed sizes in arrival order: a small request that fits waits behind a larger earlier one', async () => {
    const pool = await createPool(t, adminKey, {
      cap: 10,
      apps: [
        { key: 'all', cost: 10 },
        { key: 'six', cost: 6 },
        { key: 'four', cost: 4 },
      ],
    });
    const six = pool.keyOf('six');
    const held = (await checkout(adminKey, { poolId: pool.poolId, app: pool.keyOf('all') })).data!.checkout;
    const granted: string[] = [];
    const wait = (name: string, app: string) => checkout(adminKey, { poolId: pool.poolId, app, waitSeconds: 30 }).then((r) => (granted.push(name), r));
    const a = wait('A', six);
    await untilQueued(pool.poolId, six, 1);
    const b = wait('B', six);
    await untilQueued(pool.poolId, six, 2);
    const c = wait('C', pool.keyOf('four'));
    await untilQueued(pool.poolId, six, 3);
    await t.gql(adminKey, CHECKIN, { id: held.id });
    const first = (await a).data!.checkout;
    // 4 credits are left, enough for C, but B came first and waits for 6: C stays queued behind it.
    await untilQueued(pool.poolId, six, 2);
    expect(granted).toEqual(['A']);
    await t.gql(adminKey, CHECKIN, { id: first.id });
    const [rb, rc] = await Promise.all([b, c]);
    expect([rb.data?.checkout.credits, rc.data?.checkout.credits]).toEqual([6, 4]);
    expect(granted[0]).toBe('A');
    expect(granted.slice(1).sort()).toEqual(['B', 'C']);
  });

  it('times out cleanly with QUEUE_TIMEOUT, records the denial and leaves the queue', async () => {
    const pool = await createPool(t, adminKey, { cap: 5, apps: [{ key: 'cad', cost: 5 }] });
    const app = pool.keyOf('cad');
    await checkout(adminKey, { poolId: pool.poolId, app });
    const from = new Date(Date.now() - 1000).toISOString();
    const refused = await checkout(adminKey, { poolId: pool.poolId, app, waitSeconds: 1 });
    expect(codeOf(refused)).toBe('QUEUE_TIMEOUT');
    expect(refused.errors![0].extensions).toMatchObject({ available: 0, requested: 5 });
    expect(refused.errors![0].extensions.retryAfterSeconds).toBeGreaterThan(0);
    expect(await queueLength(pool.poolId, app)).toBe(0);
    const denials = await t.gql<{ denials: { reason: string }[] }>(
      adminKey,
      'query($p: ID!, $f: DateTime!, $t: DateTime!) { denials(poolId: $p, from: $f, to: $t) { reason } }',
      {
        p: pool.poolId,
        f: from,
        t: new Date(Date.now() + 1000).toISOString(),
      },
    );
    expect(denials.data!.denials.map((d) => d.reason)).toEqual(['QUEUE_TIMEOUT']);
  });

  it('refuses waitSeconds out of bounds with BAD_USER_INPUT', async () => {
    const pool = await createPool(t, adminKey, { cap: 5, apps: [{ key: 'viewer', cost: 1 }] });
    for (const waitSeconds of [-1, 301]) {
      const refused = await checkout(adminKey, { poolId: pool.poolId, app: pool.keyOf('viewer'), waitSeconds });
      expect(codeOf(refused)).toBe('BAD_USER_INPUT');
      expect(refused.errors![0].extensions.field).toBe('input.waitSeconds');
    }
  });

  it('takes a waiter whose client disconnects out of the queue and records its denial', async () => {
    const pool = await createPool(t, adminKey, { cap: 3, apps: [{ key: 'mesh', cost: 3 }] });
    const app = pool.keyOf('mesh');
    await checkout(adminKey, { poolId: pool.poolId, app });
    const from = new Date(Date.now() - 1000).toISOString();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.getHttpServer().address() as { port: number };
    const req = httpRequest({
      host: '127.0.0.1',
      port: address.port,
      path: '/graphql',
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
    });
    req.on('error', () => undefined);
    req.end(JSON.stringify({ query: CHECKOUT, variables: { input: { poolId: pool.poolId, app, waitSeconds: 60 } } }));
    await untilQueued(pool.poolId, app, 1);
    req.destroy();
    await untilQueued(pool.poolId, app, 0);
    // Nothing was granted to the gone client.
    const held = await t.app.get(DataSource).query(`SELECT count(*)::int AS n FROM leases WHERE pool_id = $1 AND state = 'ACTIVE'`, [pool.poolId]);
    expect(held[0].n).toBe(1);
    // It was refused for lack of credits all the while it waited: one denial, for right-sizing.
    const denied = async () =>
      (
        await t.gql<{ denials: { reason: string; requested: number; available: number }[] }>(
          adminKey,
          'query($p: ID!, $f: DateTime!, $t: DateTime!) { denials(poolId: $p, from: $f, to: $t) { reason requested available } }',
          {
            p: pool.poolId,
            f: from,
            t: new Date(Date.now() + 1000).toISOString(),
          },
        )
      ).data!.denials;
    const deadline = Date.now() + 5000;
    while ((await denied()).length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await denied()).toEqual([{ reason: 'POOL_EXHAUSTED', requested: 3, available: 0 }]);
  });

  it('quotes the queue ahead: not grantable while earlier requests wait for the free credits', async () => {
    const pool = await createPool(t, adminKey, {
      cap: 10,
      apps: [
        { key: 'a', cost: 7 },
        { key: 'b', cost: 3 },
      ],
    });
    const held = (await checkout(adminKey, { poolId: pool.poolId, app: pool.keyOf('a') })).data!.checkout;
    const before = await t.gql<{ quote: { grantable: boolean; available: number; queueLength: number } }>(adminKey, QUOTE, {
      p: pool.poolId,
      a: pool.keyOf('b'),
    });
    expect(before.data!.quote).toMatchObject({ grantable: true, available: 3, queueLength: 0 });
    const waiting = checkout(adminKey, { poolId: pool.poolId, app: pool.keyOf('a'), waitSeconds: 30 });
    await untilQueued(pool.poolId, pool.keyOf('b'), 1);
    const during = await t.gql<{ quote: { grantable: boolean; available: number; queueLength: number } }>(adminKey, QUOTE, {
      p: pool.poolId,
      a: pool.keyOf('b'),
    });
    expect(during.data!.quote).toMatchObject({ grantable: false, available: 0, queueLength: 1 });
    expect(codeOf(await checkout(adminKey, { poolId: pool.poolId, app: pool.keyOf('b') }))).toBe('POOL_EXHAUSTED');
    await t.gql(adminKey, CHECKIN, { id: held.id });
    expect((await waiting).data?.checkout.credits).toBe(7);
  });

  it('lets a request waiting on its team ceiling hold back nobody else', async () => {
    const pool = await createPool(t, adminKey, { cap: 20, apps: [{ key: 'tool', cost: 4 }] });
    const app = pool.keyOf('tool');
    await t.gql(adminKey, 'mutation($p: ID!) { setGroupLimit(input: { poolId: $p, team: "capped", reserved: 0, max: 4 }) { team } }', { p: pool.poolId });
    const capped = await t.principalWithKey(adminKey, 'CLIENT', { team: 'capped' });
    const other = await t.principalWithKey(adminKey, 'CLIENT', { team: 'free' });
    const first = (await checkout(capped.key, { poolId: pool.poolId, app })).data!.checkout;
    const waiting = checkout(capped.key, { poolId: pool.poolId, app, waitSeconds: 30 });
    await untilQueued(pool.poolId, app, 1);
    expect((await checkout(other.key, { poolId: pool.poolId, app })).data?.checkout.credits).toBe(4);
    await t.gql(capped.key, CHECKIN, { id: first.id });
    expect((await waiting).data?.checkout.credits).toBe(4);
  });

  it('refuses the 21st waiting check-out of one principal with RATE_LIMITED while another principal still queues', async () => {
    const pool = await createPool(t, adminKey, {
      cap: 21,
      apps: [
        { key: 'all', cost: 21 },
        { key: 'seat', cost: 1 },
      ],
    });
    const seat = pool.keyOf('seat');
    const held = (await checkout(adminKey, { poolId: pool.poolId, app: pool.keyOf('all') })).data!.checkout;
    const flooder = await t.principalWithKey(adminKey, 'CLIENT');
    const other = await t.principalWithKey(adminKey, 'CLIENT');
    const waiting: Promise<GqlResult<{ checkout: LeaseShape }>>[] = [];
    for (let i = 0; i < 20; i++) waiting.push(checkout(flooder.key, { poolId: pool.poolId, app: seat, waitSeconds: 60 }));
    await untilQueued(pool.poolId, seat, 20);
    const refused = await checkout(flooder.key, { poolId: pool.poolId, app: seat, waitSeconds: 1 });
    expect(codeOf(refused)).toBe('RATE_LIMITED');
    expect(refused.errors![0].message).toContain('QUEUE_MAX_PER_PRINCIPAL');
    expect(refused.errors![0].extensions).toMatchObject({ queueLength: 20 });
    expect(refused.errors![0].extensions.retryAfterSeconds).toBeGreaterThan(0);
    waiting.push(checkout(other.key, { poolId: pool.poolId, app: seat, waitSeconds: 60 }));
    await untilQueued(pool.poolId, seat, 21);
    await t.gql(adminKey, CHECKIN, { id: held.id });
    const granted = await Promise.all(waiting);
    expect(granted.map((r) => r.data?.checkout.credits)).toEqual(Array(21).fill(1));
  });

  it('refuses a waiting check-out above the cap at once with POOL_EXHAUSTED and never queues it', async () => {
    const pool = await createPool(t, adminKey, { cap: 5, apps: [{ key: 'huge', cost: 6 }] });
    const app = pool.keyOf('huge');
    const refused = await checkout(adminKey, { poolId: pool.poolId, app, waitSeconds: 2 });
    expect(codeOf(refused)).toBe('POOL_EXHAUSTED');
    expect(refused.errors![0].extensions).toMatchObject({ requested: 6, available: 5 });
    expect(refused.errors![0].message).toContain('cap');
    expect(await queueLength(pool.poolId, app)).toBe(0);
  });

  it('refuses a waiting check-out above its team ceiling at once with GROUP_LIMIT_REACHED and never queues it', async () => {
    const pool = await createPool(t, adminKey, { cap: 20, apps: [{ key: 'tool', cost: 5 }] });
    const app = pool.keyOf('tool');
    await t.gql(adminKey, 'mutation($p: ID!) { setGroupLimit(input: { poolId: $p, team: "small", reserved: 0, max: 4 }) { team } }', { p: pool.poolId });
    const member = await t.principalWithKey(adminKey, 'CLIENT', { team: 'small' });
    const refused = await checkout(member.key, { poolId: pool.poolId, app, waitSeconds: 2 });
    expect(codeOf(refused)).toBe('GROUP_LIMIT_REACHED');
    expect(refused.errors![0].extensions).toMatchObject({ requested: 5 });
    expect(refused.errors![0].message).toContain('ceiling');
    expect(await queueLength(pool.poolId, app)).toBe(0);
  });

  describe('across three API processes', () => {
    let apis: ApiProcess[];

    beforeAll(async () => {
      apis = await Promise.all([startApi(), startApi(), startApi()]);
    });

    afterAll(async () => {
      await Promise.all(apis.map((a) => a.stop()));
    });

    it('serves requests queued through three processes in arrival order and shows them on the waiting gauge', async () => {
      const pool = await createPool(t, adminKey, { cap: 6, apps: [{ key: 'cae', cost: 6 }] });
      const app = pool.keyOf('cae');
      const held = (await checkout(adminKey, { poolId: pool.poolId, app })).data!.checkout;
      const order: number[] = [];
      const waiters: Promise<{ body: { data?: Record<string, unknown> | null } }>[] = [];
      for (const i of [0, 1, 2]) {
        waiters.push(apis[i].gql(adminKey, CHECKOUT, { input: { poolId: pool.poolId, app, waitSeconds: 60 } }).then((r) => (order.push(i), r)));
        await untilQueued(pool.poolId, app, i + 1);
      }
      const metrics = await (await fetch(apis[1].metricsUrl)).text();
      expect(metrics).toContain(`tokenpool_queue_waiting_requests{pool="${pool.poolId}"} 1`);
      let release = held.id;
      for (const i of [0, 1, 2]) {
        await t.gql(adminKey, CHECKIN, { id: release });
        const granted = (await waiters[i]).body.data?.checkout as { id: string; credits: number };
        expect(granted.credits).toBe(6);
        release = granted.id;
      }
      expect(order).toEqual([0, 1, 2]);
    });
  });
});
