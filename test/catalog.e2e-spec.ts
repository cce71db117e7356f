import { codeOf, TestApp } from './support/app';
import { CHECKOUT, createPool } from './support/catalog';

describe('catalog: pools, apps and group limits', () => {
  let t: TestApp;
  let adminKey: string;

  beforeAll(async () => {
    t = await TestApp.start();
    ({ adminKey } = await t.organization('catalog'));
  });

  afterAll(async () => {
    await t.close();
  });

  it('creates a pool with the contract defaults and live figures', async () => {
    const res = await t.gql<{ createPool: Record<string, unknown> }>(
      adminKey,
      'mutation { createPool(input: { name: "engineering", cap: 400 }) { name cap inUse available activeLeases defaultLeaseSeconds maxLeaseSeconds creditHourPrice apps { id } } }',
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.createPool).toEqual({
      name: 'engineering',
      cap: 400,
      inUse: 0,
      available: 400,
      activeLeases: 0,
      defaultLeaseSeconds: 300,
      maxLeaseSeconds: 3600,
      creditHourPrice: null,
      apps: [],
    });
  });

  it('refuses a negative cap with BAD_USER_INPUT on input.cap', async () => {
    const res = await t.gql(adminKey, 'mutation { createPool(input: { name: "neg", cap: -1 }) { id } }');
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0].extensions.field).toBe('input.cap');
  });

  it('refuses a default lease longer than the maximum', async () => {
    const res = await t.gql(adminKey, 'mutation { createPool(input: { name: "long", cap: 5, defaultLeaseSeconds: 600, maxLeaseSeconds: 60 }) { id } }');
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.defaultLeaseSeconds' });
  });

  it('refuses a duplicate pool name', async () => {
    await t.gql(adminKey, 'mutation { createPool(input: { name: "twice", cap: 5 }) { id } }');
    const res = await t.gql(adminKey, 'mutation { createPool(input: { name: "twice", cap: 5 }) { id } }');
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
  });

  it('refuses app costs out of bounds and malformed keys', async () => {
    const { poolId } = await createPool(t, adminKey, { cap: 10, apps: [] });
    for (const [input, field] of [
      [{ key: 'zero', name: 'Z', cost: 0 }, 'input.cost'],
      [{ key: 'huge', name: 'H', cost: 1_000_001 }, 'input.cost'],
      [{ key: 'Bad Key!', name: 'B', cost: 1 }, 'input.key'],
      [{ key: 'neg-linger', name: 'L', cost: 1, lingerSeconds: -5 }, 'input.lingerSeconds'],
    ] as const) {
      const res = await t.gql(adminKey, 'mutation($input: CreateAppInput!) { createApp(input: $input) { id } }', { input: { poolId, ...input } });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
  });

  it('refuses a duplicate app key in the organization', async () => {
    const { poolId } = await createPool(t, adminKey, { cap: 10, apps: [] });
    const input = { poolId, key: `dup-${poolId.slice(0, 6)}`, name: 'D', cost: 1 };
    await t.gql(adminKey, 'mutation($input: CreateAppInput!) { createApp(input: $input) { id } }', { input });
    const res = await t.gql(adminKey, 'mutation($input: CreateAppInput!) { createApp(input: $input) { id } }', { input });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.key' });
  });

  it('answers NOT_FOUND for an app in an unknown pool', async () => {
    const res = await t.gql(adminKey, 'mutation { createApp(input: { poolId: "00000000-0000-0000-0000-000000000000", key: "x", name: "x", cost: 1 }) { id } }');
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'input.poolId' });
  });

  it('applies a new app cost to the next check-out at once', async () => {
    const pool = await createPool(t, adminKey, { cap: 100, apps: [{ key: 'solver', cost: 50 }] });
    await t.gql(adminKey, 'mutation($id: ID!) { updateApp(id: $id, input: { cost: 7 }) { cost } }', { id: pool.apps.solver });
    const lease = await t.gql<{ checkout: { credits: number } }>(adminKey, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('solver') } });
    expect(lease.data?.checkout.credits).toBe(7);
  });

  it('records catalog changes with before and after in the audit log', async () => {
    const from = new Date(Date.now() - 1000).toISOString();
    const pool = await createPool(t, adminKey, { cap: 10, apps: [] });
    await t.gql(adminKey, 'mutation($id: ID!) { updatePool(id: $id, input: { cap: 12 }) { cap } }', { id: pool.poolId });
    const log = await t.gql<{ auditLog: { action: string; objectId: string; before: string | null; after: string | null }[] }>(
      adminKey,
      'query($from: DateTime!, $to: DateTime!) { auditLog(from: $from, to: $to, first: 100) { action objectId before after } }',
      { from, to: new Date(Date.now() + 1000).toISOString() },
    );
    const update = log.data?.auditLog.find((e) => e.action === 'updatePool' && e.objectId === pool.poolId);
    expect(JSON.parse(update!.before!)).toMatchObject({ cap: 10 });
    expect(JSON.parse(update!.after!)).toMatchObject({ cap: 12 });
  });

  it('keeps reservations within the cap', async () => {
    const pool = await createPool(t, adminKey, { cap: 50, apps: [] });
    const ok = await t.gql<{ setGroupLimit: { reserved: number; max: number | null } }>(
      adminKey,
      'mutation($p: ID!) { setGroupLimit(input: { poolId: $p, team: "a", reserved: 30, max: 40 }) { reserved max } }',
      { p: pool.poolId },
    );
    expect(ok.data?.setGroupLimit).toEqual({ reserved: 30, max: 40 });
    const over = await t.gql(adminKey, 'mutation($p: ID!) { setGroupLimit(input: { poolId: $p, team: "b", reserved: 21 }) { reserved } }', { p: pool.poolId });
    expect(over.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.reserved' });
    const lower = await t.gql(adminKey, 'mutation($p: ID!) { updatePool(id: $p, input: { cap: 29 }) { cap } }', { p: pool.poolId });
    expect(lower.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.cap' });
    const limits = await t.gql<{ groupLimits: { team: string; reserved: number; pool: { available: number } }[] }>(
      adminKey,
      'query($p: ID!) { groupLimits(poolId: $p) { team reserved pool { available } } }',
      { p: pool.poolId },
    );
    expect(limits.data?.groupLimits).toEqual([{ team: 'a', reserved: 30, pool: { available: 20 } }]);
  });

  it('lets CLIENT and VIEWER keys read pools but not change them', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [] });
    for (const role of ['CLIENT', 'VIEWER'] as const) {
      const { key } = await t.principalWithKey(adminKey, role);
      const read = await t.gql<{ pool: { id: string } }>(key, 'query($id: ID!) { pool(id: $id) { id } }', { id: pool.poolId });
      expect(read.data?.pool.id).toBe(pool.poolId);
      expect(codeOf(await t.gql(key, 'mutation { createPool(input: { name: "no", cap: 1 }) { id } }'))).toBe('FORBIDDEN');
    }
  });
});
