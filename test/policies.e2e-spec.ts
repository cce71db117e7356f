import { createClient, Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { codeOf, TestApp } from './support/app';
import { CHECKIN, CHECKOUT, createPool, LeaseShape } from './support/catalog';
import { ApiProcess, startApi } from './support/processes';

describe('lease policies through the API', () => {
  let t: TestApp;
  let adminKey: string;

  beforeAll(async () => {
    t = await TestApp.start();
    ({ adminKey } = await t.organization('policies'));
  });

  afterAll(async () => {
    await t.close();
  });

  const checkout = (key: string, input: Record<string, unknown>) => t.gql<{ checkout: LeaseShape }>(key, CHECKOUT, { input });
  const inUse = async (poolId: string) =>
    (await t.gql<{ pool: { inUse: number } }>(adminKey, 'query($id: ID!) { pool(id: $id) { inUse } }', { id: poolId })).data!.pool.inUse;

  it('draws a PRINCIPAL_HOST app once for three instances and frees it after the last check-in', async () => {
    const pool = await createPool(t, adminKey, { cap: 100, apps: [{ key: 'hypermesh', cost: 21, shareScope: 'PRINCIPAL_HOST' }] });
    const user = await t.principalWithKey(adminKey, 'CLIENT', { name: 'engineer' });
    const leases = [];
    for (let i = 0; i < 3; i++) leases.push((await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('hypermesh'), host: 'ws-1' })).data!.checkout);
    expect(leases.map((l) => l.credits)).toEqual([21, 0, 0]);
    expect(await inUse(pool.poolId)).toBe(21);
    const elsewhere = (await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('hypermesh'), host: 'ws-2' })).data!.checkout;
    expect(elsewhere.credits).toBe(21);
    await t.gql(user.key, CHECKIN, { id: elsewhere.id });
    await t.gql(user.key, CHECKIN, { id: leases[0].id });
    await t.gql(user.key, CHECKIN, { id: leases[1].id });
    expect(await inUse(pool.poolId)).toBe(21);
    await t.gql(user.key, CHECKIN, { id: leases[2].id });
    expect(await inUse(pool.poolId)).toBe(0);
  });

  it('draws a WORK_UNIT app once for fifty agent leases of one work unit', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'mes-query', cost: 5, shareScope: 'WORK_UNIT' }] });
    const agent = await t.principalWithKey(adminKey, 'CLIENT', { name: 'orchestrator', kind: 'AGENT' });
    const unit = await t.gql<{ upsertWorkUnit: { id: string } }>(agent.key, 'mutation { upsertWorkUnit(input: { externalRef: "run-50-agents" }) { id } }');
    const workUnitId = unit.data!.upsertWorkUnit.id;
    const input = { poolId: pool.poolId, app: pool.keyOf('mes-query'), workUnitId };
    // The first opens the draw; the other 49 arrive at once and join it.
    const first = await checkout(agent.key, input);
    const leases = [first, ...(await Promise.all(Array.from({ length: 49 }, () => checkout(agent.key, input))))];
    expect(leases.filter((l) => !l.data?.checkout).map((l) => l.errors)).toEqual([]);
    expect(leases.reduce((sum, l) => sum + l.data!.checkout.credits, 0)).toBe(5);
    expect(await inUse(pool.poolId)).toBe(5);
  });

  it('keeps a team reservation for the team while others are denied, and refuses a team at its ceiling while the pool has room', async () => {
    const pool = await createPool(t, adminKey, { cap: 50, apps: [{ key: 'tool', cost: 10 }] });
    await t.gql(adminKey, 'mutation($p: ID!) { setGroupLimit(input: { poolId: $p, team: "cae", reserved: 30 }) { team } }', { p: pool.poolId });
    await t.gql(adminKey, 'mutation($p: ID!) { setGroupLimit(input: { poolId: $p, team: "design", reserved: 0, max: 10 }) { team } }', { p: pool.poolId });
    const cae = await t.principalWithKey(adminKey, 'CLIENT', { name: 'cae-1', team: 'cae' });
    const design = await t.principalWithKey(adminKey, 'CLIENT', { name: 'design-1', team: 'design' });
    const other = await t.principalWithKey(adminKey, 'CLIENT', { name: 'sales-1', team: 'sales' });
    expect((await checkout(design.key, { poolId: pool.poolId, app: pool.keyOf('tool') })).data?.checkout.credits).toBe(10);
    const ceiling = await checkout(design.key, { poolId: pool.poolId, app: pool.keyOf('tool') });
    expect(ceiling.errors?.[0].extensions).toMatchObject({ code: 'GROUP_LIMIT_REACHED', requested: 10 });
    expect((await checkout(other.key, { poolId: pool.poolId, app: pool.keyOf('tool') })).data?.checkout.credits).toBe(10);
    const denied = await checkout(other.key, { poolId: pool.poolId, app: pool.keyOf('tool') });
    expect(denied.errors?.[0].extensions).toMatchObject({ code: 'POOL_EXHAUSTED', available: 0 });
    for (let i = 0; i < 3; i++) expect((await checkout(cae.key, { poolId: pool.poolId, app: pool.keyOf('tool') })).data?.checkout.credits).toBe(10);
    expect(codeOf(await checkout(cae.key, { poolId: pool.poolId, app: pool.keyOf('tool') }))).toBe('POOL_EXHAUSTED');
  });

  it('holds a lingering draw after check-in and lets the same principal take it over', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'cad', cost: 10, lingerSeconds: 60 }] });
    const user = await t.principalWithKey(adminKey, 'CLIENT', { name: 'lingerer' });
    const other = await t.principalWithKey(adminKey, 'CLIENT', { name: 'waiting' });
    const first = (await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('cad') })).data!.checkout;
    await t.gql(user.key, CHECKIN, { id: first.id });
    expect(await inUse(pool.poolId)).toBe(10);
    expect(codeOf(await checkout(other.key, { poolId: pool.poolId, app: pool.keyOf('cad') }))).toBe('POOL_EXHAUSTED');
    const again = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('cad') });
    expect(again.data?.checkout).toBeDefined();
    expect(await inUse(pool.poolId)).toBe(10);
  });

  it('quotes what the next check-out does', async () => {
    const pool = await createPool(t, adminKey, {
      cap: 30,
      apps: [
        { key: 'solver', cost: 20 },
        { key: 'viewer', cost: 6, shareScope: 'PRINCIPAL' },
      ],
    });
    const user = await t.principalWithKey(adminKey, 'CLIENT', { name: 'planner' });
    const quote = (app: string) =>
      t.gql<{ quote: { cost: number; grantable: boolean; available: number; queueLength: number; estimatedWaitSeconds: number | null } }>(
        user.key,
        'query($p: ID!, $a: String!) { quote(poolId: $p, app: $a) { cost grantable available queueLength estimatedWaitSeconds } }',
        { p: pool.poolId, a: pool.keyOf(app) },
      );
    expect((await quote('solver')).data?.quote).toEqual({ cost: 20, grantable: true, available: 30, queueLength: 0, estimatedWaitSeconds: 0 });
    expect((await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('solver') })).data?.checkout.credits).toBe(20);
    expect((await quote('solver')).data?.quote).toMatchObject({ cost: 20, grantable: false, available: 10 });
    expect(codeOf(await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('solver') }))).toBe('POOL_EXHAUSTED');
    expect((await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('viewer') })).data?.checkout.credits).toBe(6);
    expect((await quote('viewer')).data?.quote).toMatchObject({ cost: 0, grantable: true });
    expect((await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('viewer') })).data?.checkout.credits).toBe(0);
  });

  describe('poolChanged across API processes', () => {
    let apis: ApiProcess[];
    const clients: WsClient[] = [];

    beforeAll(async () => {
      apis = await Promise.all([startApi(), startApi(), startApi()]);
    });

    afterAll(async () => {
      await Promise.all(clients.map((c) => c.dispose()));
      await Promise.all(apis.map((a) => a.stop()));
    });

    function subscribe(api: ApiProcess, key: string, poolId: string): { events: { inUse: number; activeLeases: number }[]; ready: Promise<void> } {
      const events: { inUse: number; activeLeases: number }[] = [];
      let connected: () => void = () => undefined;
      const ready = new Promise<void>((resolve) => (connected = resolve));
      const client = createClient({
        url: api.url.replace('http', 'ws') + '/graphql',
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${key}` },
        on: { connected: () => connected() },
      });
      clients.push(client);
      client.subscribe<{ poolChanged: { inUse: number; activeLeases: number } }>(
        { query: 'subscription($p: ID!) { poolChanged(poolId: $p) { inUse activeLeases } }', variables: { p: poolId } },
        { next: (value) => value.data && events.push(value.data.poolChanged), error: () => undefined, complete: () => undefined },
      );
      return { events, ready };
    }

    it('shows two subscribers on two processes a check-out made through a third', async () => {
      const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'tool', cost: 4 }] });
      const viewer = await t.principalWithKey(adminKey, 'VIEWER', { name: 'dashboard' });
      const a = subscribe(apis[0], viewer.key, pool.poolId);
      const b = subscribe(apis[1], adminKey, pool.poolId);
      await Promise.all([a.ready, b.ready]);
      await new Promise((r) => setTimeout(r, 300)); // let the subscriptions register
      const lease = await apis[2].gql(adminKey, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('tool') } });
      expect(lease.body.data?.checkout).toBeTruthy();
      const seen = async (s: { events: { inUse: number }[] }) => {
        for (let i = 0; i < 50 && s.events.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
        return s.events[0];
      };
      expect(await seen(a)).toEqual({ inUse: 4, activeLeases: 1 });
      expect(await seen(b)).toEqual({ inUse: 4, activeLeases: 1 });
    });

    it('refuses a subscription without a valid key: the socket closes and nothing is delivered', async () => {
      const pool = await createPool(t, adminKey, { cap: 10, apps: [] });
      let delivered = 0;
      const closed = new Promise<number>((resolve) => {
        const client = createClient({
          url: apis[0].url.replace('http', 'ws') + '/graphql',
          webSocketImpl: WebSocket,
          connectionParams: { authorization: 'Bearer tp_nope' },
          retryAttempts: 0,
          on: { closed: (event) => resolve((event as { code: number }).code) },
        });
        clients.push(client);
        client.subscribe(
          { query: 'subscription($p: ID!) { poolChanged(poolId: $p) { inUse } }', variables: { p: pool.poolId } },
          { next: () => (delivered += 1), error: () => undefined, complete: () => undefined },
        );
      });
      // Mercurius answers a refused connection_init by closing the socket (it sends no 4403 code).
      expect(await closed).not.toBe(1000);
      await apis[2].gql(adminKey, 'mutation($id: ID!) { updatePool(id: $id, input: { cap: 11 }) { cap } }', { id: pool.poolId });
      await new Promise((r) => setTimeout(r, 300));
      expect(delivered).toBe(0);
    });
  });
});
