import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { TestApp } from './support/app';
import { createPool } from './support/catalog';

const PRINCIPALS = 4;
const APPS = 4;
const LEASES = 100;

interface LeaseRow {
  principal: { name: string };
  app: { key: string };
  pool: { name: string };
  workUnit: { externalRef: string } | null;
}

/**
 * Field resolvers that load by id batch through per-operation loaders: a page costs the
 * same number of SQL statements whatever its length. Statements are counted where every one
 * of them passes, pg's Client.query, while one GraphQL operation runs.
 */
describe('field resolvers: a page costs a constant number of queries', () => {
  let t: TestApp;
  let adminKey: string;
  let poolId: string;
  let poolName: string;
  let counting = false;
  let statements = 0;
  let restore: () => void;

  beforeAll(async () => {
    t = await TestApp.start();
    const Client = (t.app.get(DataSource).driver as PostgresDriver).postgres.Client;
    const query = Client.prototype.query;
    Client.prototype.query = function (this: unknown, ...args: unknown[]) {
      if (counting) statements += 1;
      return query.apply(this, args);
    };
    restore = () => (Client.prototype.query = query);

    ({ adminKey } = await t.organization('loaders'));
    const pool = await createPool(t, adminKey, { cap: 1000, apps: Array.from({ length: APPS }, (_, i) => ({ key: `tool${i}`, cost: 1 })) });
    poolId = pool.poolId;
    poolName = (await t.gql<{ pools: { id: string; name: string }[] }>(adminKey, '{ pools { id name } }')).data!.pools.find((p) => p.id === poolId)!.name;
    const clients: { key: string; workUnitId: string }[] = [];
    for (let p = 0; p < PRINCIPALS; p++) {
      const client = await t.principalWithKey(adminKey, 'CLIENT', { name: `holder-${p}`, team: `team-${p}` });
      const unit = await t.gql<{ upsertWorkUnit: { id: string } }>(client.key, 'mutation($r: String!) { upsertWorkUnit(input: { externalRef: $r }) { id } }', {
        r: `ticket-${p}`,
      });
      clients.push({ ...client, workUnitId: unit.data!.upsertWorkUnit.id });
      await t.gql(adminKey, 'mutation($input: GroupLimitInput!) { setGroupLimit(input: $input) { team } }', {
        input: { poolId, team: `team-${p}`, reserved: 1 },
      });
    }
    for (let batch = 0; batch < LEASES; batch += 10) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, j) => {
          const i = batch + j;
          const client = clients[i % PRINCIPALS];
          const input = {
            poolId,
            app: pool.keyOf(`tool${Math.floor(i / PRINCIPALS) % APPS}`),
            leaseSeconds: 3600,
            workUnitId: i % 5 === 0 ? null : client.workUnitId,
          };
          const res = await t.gql(client.key, 'mutation($input: CheckoutInput!) { checkout(input: $input) { id } }', { input });
          if (!res.data) throw new Error(JSON.stringify(res.errors));
        }),
      );
    }
  }, 120_000);

  afterAll(async () => {
    restore?.();
    await t?.close();
  });

  /** The answer of one operation and the SQL statements it sent. */
  async function counted<T>(query: string, variables?: Record<string, unknown>): Promise<{ data: T; statements: number }> {
    statements = 0;
    counting = true;
    const res = await t.gql<T>(adminKey, query, variables);
    counting = false;
    if (!res.data || res.errors) throw new Error(JSON.stringify(res.errors));
    return { data: res.data, statements };
  }

  /**
   * The larger page costs what the smaller one does. Up to two statements of slack: the API
   * key's cached lookup (1 s) may lapse between the two operations, and a key's lastUsedAt is
   * written once a minute, in whichever operation comes then. An N+1 costs one per row.
   */
  function expectSameCost(larger: number, smaller: number): void {
    expect(larger).toBeLessThanOrEqual(smaller + 2);
  }

  const LEASE_PAGE = `query($first: Int!) { leases(first: $first) { app { key } principal { name } pool { name } workUnit { externalRef } } }`;

  it('leases(first: 100) with app, principal, pool and workUnit costs what leases(first: 10) does, and answers as each lease was made', async () => {
    await counted(LEASE_PAGE, { first: 1 }); // the key is authenticated and cached
    const small = await counted<{ leases: LeaseRow[] }>(LEASE_PAGE, { first: 10 });
    const large = await counted<{ leases: LeaseRow[] }>(LEASE_PAGE, { first: 100 });
    expect(large.data.leases).toHaveLength(LEASES);
    expectSameCost(large.statements, small.statements);

    const seen = new Set(large.data.leases.map((l) => `${l.principal.name}|${l.app.key.split('-')[0]}|${l.pool.name}|${l.workUnit?.externalRef ?? '-'}`));
    const expected = new Set(
      Array.from({ length: LEASES }, (_, i) => {
        const p = i % PRINCIPALS;
        return `holder-${p}|tool${Math.floor(i / PRINCIPALS) % APPS}|${poolName}|${i % 5 === 0 ? '-' : `ticket-${p}`}`;
      }),
    );
    expect(seen).toEqual(expected);
  });

  it('denials with pool, app and principal cost the same for 2 rows as for 16', async () => {
    const full = await createPool(t, adminKey, { cap: 1, apps: Array.from({ length: APPS }, (_, i) => ({ key: `big${i}`, cost: 2 })) });
    const keys: string[] = [];
    for (let p = 0; p < PRINCIPALS; p++) keys.push((await t.principalWithKey(adminKey, 'CLIENT', { name: `refused-${p}` })).key);
    for (const key of keys) {
      for (let a = 0; a < APPS; a++) {
        const res = await t.gql(key, 'mutation($input: CheckoutInput!) { checkout(input: $input) { id } }', {
          input: { poolId: full.poolId, app: full.keyOf(`big${a}`) },
        });
        expect(res.errors?.[0]?.extensions.code).toBeDefined();
      }
    }
    const DENIALS = `query($p: ID!, $from: DateTime!, $to: DateTime!, $first: Int!) {
      denials(poolId: $p, from: $from, to: $to, first: $first) { pool { name } app { key } principal { name } }
    }`;
    const window = { p: full.poolId, from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() };
    const small = await counted<{ denials: unknown[] }>(DENIALS, { ...window, first: 2 });
    const large = await counted<{ denials: { principal: { name: string }; app: { key: string } }[] }>(DENIALS, { ...window, first: 100 });
    expect(large.data.denials).toHaveLength(PRINCIPALS * APPS);
    expect(new Set(large.data.denials.map((d) => `${d.principal.name}|${d.app.key}`)).size).toBe(PRINCIPALS * APPS);
    expectSameCost(large.statements, small.statements);
  });

  it('auditLog with actor costs the same for 2 entries as for 30', async () => {
    const AUDIT = `query($from: DateTime!, $to: DateTime!, $first: Int!) { auditLog(from: $from, to: $to, first: $first) { action actor { name } } }`;
    const window = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() };
    const small = await counted<{ auditLog: unknown[] }>(AUDIT, { ...window, first: 2 });
    const large = await counted<{ auditLog: { actor: { name: string } }[] }>(AUDIT, { ...window, first: 30 });
    expect(large.data.auditLog.length).toBeGreaterThanOrEqual(30);
    expect(large.data.auditLog.every((e) => e.actor.name.length > 0)).toBe(true);
    expectSameCost(large.statements, small.statements);
  });

  it('apiKeys with their principal cost one query more than apiKeys without it, not one per key', async () => {
    await counted('{ apiKeys { id } }'); // the key's lookup is cached from here on
    const bare = await counted<{ apiKeys: unknown[] }>('{ apiKeys { id } }');
    const withPrincipal = await counted<{ apiKeys: { principal: { name: string } }[] }>('{ apiKeys { id principal { name } } }');
    expect(withPrincipal.data.apiKeys.length).toBeGreaterThan(PRINCIPALS);
    expect(withPrincipal.data.apiKeys.every((k) => k.principal.name.length > 0)).toBe(true);
    expectSameCost(withPrincipal.statements, bare.statements + 1);
  });

  it('workUnits with their outcome history cost the same for 2 work units as for all of them', async () => {
    for (let i = 0; i < 12; i++) {
      const unit = await t.gql<{ upsertWorkUnit: { id: string } }>(adminKey, 'mutation($r: String!) { upsertWorkUnit(input: { externalRef: $r }) { id } }', {
        r: `case-${i}`,
      });
      await t.gql(adminKey, 'mutation($id: ID!) { recordOutcome(input: { workUnitId: $id, outcome: ACCEPTED }) { outcome } }', {
        id: unit.data!.upsertWorkUnit.id,
      });
    }
    const UNITS = `query($first: Int!) { workUnits(first: $first) { id outcomeHistory { after } } }`;
    await counted(UNITS, { first: 1 }); // the key's lookup is cached from here on: both counts below are the operation's alone
    const small = await counted<{ workUnits: unknown[] }>(UNITS, { first: 2 });
    const large = await counted<{ workUnits: { outcomeHistory: unknown[] }[] }>(UNITS, { first: 100 });
    expect(large.data.workUnits.length).toBeGreaterThanOrEqual(PRINCIPALS + 12);
    expect(large.data.workUnits.filter((u) => u.outcomeHistory.length === 1)).toHaveLength(12);
    expectSameCost(large.statements, small.statements);
  });

  it("groupLimits' pool and principals' organization each cost one query, not one per row", async () => {
    const bare = await counted<{ groupLimits: unknown[] }>('query($p: ID!) { groupLimits(poolId: $p) { team } }', { p: poolId });
    const withPool = await counted<{ groupLimits: { pool: { name: string } }[] }>('query($p: ID!) { groupLimits(poolId: $p) { team pool { name } } }', {
      p: poolId,
    });
    expect(withPool.data.groupLimits).toHaveLength(PRINCIPALS);
    expect(withPool.data.groupLimits.every((l) => l.pool.name === poolName)).toBe(true);
    expect(withPool.statements).toBeLessThanOrEqual(bare.statements + 1);

    const names = await counted<{ principals: unknown[] }>('{ principals { name } }');
    const orgs = await counted<{ principals: { organization: { id: string } }[] }>('{ principals { name organization { id } } }');
    expect(orgs.data.principals.length).toBeGreaterThan(PRINCIPALS);
    expect(orgs.statements).toBeLessThanOrEqual(names.statements + 1);
  });
});
