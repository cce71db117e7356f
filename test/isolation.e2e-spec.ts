import { GraphQLSchemaHost } from '@nestjs/graphql';
import { DataSource } from 'typeorm';
import { HistoryImportService } from '../src/history/history-import.service';
import { TestApp } from './support/app';
import { CHECKOUT, createPool } from './support/catalog';
import { walkOperations } from './support/schema-walk';

/**
 * Promise 5: nothing of one organization is visible to, or changeable by, another.
 * Walks every query and mutation of the schema as organization A's admin, once with each
 * id that belongs to organization B, and checks that no answer shows anything of B and that
 * B's rows are byte for byte what they were.
 */
describe('organization isolation, walked over the whole schema', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let a: { organizationId: string; adminKey: string };
  let b: { organizationId: string; adminKey: string };

  beforeAll(async () => {
    t = await TestApp.start();
    dataSource = t.app.get(DataSource);
    a = await t.organization('iso-a');
    b = await t.organization('iso-b');
    await seedOrganization(t, b);
  });

  afterAll(async () => {
    await t.close();
  });

  /** Every table with an organization_id column: found from the database, not a hand-kept list. */
  async function tenantTables(): Promise<string[]> {
    const rows: { table_name: string }[] = await dataSource.query(
      `SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'organization_id' ORDER BY table_name`,
    );
    return rows.map((r) => r.table_name);
  }

  async function snapshot(organizationId: string): Promise<Record<string, string>> {
    const result: Record<string, string> = {};
    for (const table of await tenantTables()) {
      const rows = await dataSource.query(`SELECT * FROM "${table}" WHERE organization_id = $1 ORDER BY 1`, [organizationId]);
      result[table] = JSON.stringify(rows);
    }
    return result;
  }

  async function foreignIds(organizationId: string): Promise<string[]> {
    const ids = new Set<string>();
    for (const table of await tenantTables()) {
      const hasId: { n: number }[] = await dataSource.query(
        `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND column_name = 'id'`,
        [table],
      );
      if (hasId[0].n === 0) continue;
      const rows: { id: string }[] = await dataSource.query(`SELECT id::text AS id FROM "${table}" WHERE organization_id = $1`, [organizationId]);
      rows.forEach((r) => ids.add(r.id));
    }
    return [...ids];
  }

  it('finds the seeded rows of organization B in every tenant table it walks', async () => {
    const tables = await tenantTables();
    expect(tables).toEqual(
      expect.arrayContaining(['principals', 'api_keys', 'audit_log', 'pools', 'apps', 'leases', 'denials', 'group_limits', 'lease_draws', 'pool_usage_rollups', 'app_usage_rollups', 'usage_principal_days', 'usage_rollup_cursors', 'history_imports', 'work_units', 'work_unit_outcomes', 'work_unit_totals', 'model_prices', 'ledger_entries', 'ledger_event_keys']),
    );
    expect((await foreignIds(b.organizationId)).length).toBeGreaterThanOrEqual(8);
  });

  it('shows nothing of organization B and changes nothing of it, for every query and mutation', async () => {
    const schema = t.app.get(GraphQLSchemaHost).schema;
    const before = await snapshot(b.organizationId);
    const ids = await foreignIds(b.organizationId);
    const visible: string[] = [];
    const mutationsNotRefused: string[] = [];
    let walked = 0;
    for (const id of ids) {
      for (const op of walkOperations(schema, id)) {
        if (!op.takesIds && id !== ids[0]) continue;
        const res = await t.gql(a.adminKey, op.query, op.variables);
        walked += 1;
        if (res.status >= 500) visible.push(`${op.field} answered HTTP ${res.status}`);
        const text = JSON.stringify(res.data ?? {});
        for (const foreign of ids) if (text.includes(`"${foreign}"`)) visible.push(`${op.field} showed ${foreign}`);
        if (text.includes(b.organizationId)) visible.push(`${op.field} showed B's organization id`);
        const code = res.errors?.[0]?.extensions.code;
        if (op.rootType === 'Mutation' && op.takesIds && code !== 'NOT_FOUND' && code !== 'BAD_USER_INPUT') {
          mutationsNotRefused.push(`${op.field} with ${id} answered ${code ?? 'data'}`);
        }
      }
    }
    expect(visible).toEqual([]);
    expect(mutationsNotRefused).toEqual([]);
    expect(walked).toBeGreaterThan(ids.length);
    expect(await snapshot(b.organizationId)).toEqual(before);
  });
});

/** Gives an organization one of everything the schema can create, through the API. */
async function seedOrganization(t: TestApp, org: { organizationId: string; adminKey: string }): Promise<void> {
  const { adminKey } = org;
  const client = await t.principalWithKey(adminKey, 'CLIENT', { name: 'b-client', team: 'b-team' });
  await t.principalWithKey(adminKey, 'VIEWER', { name: 'b-viewer' });
  const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'b-app', cost: 6 }] });
  await t.gql(adminKey, 'mutation($p: ID!) { setGroupLimit(input: { poolId: $p, team: "b-team", reserved: 2, max: 8 }) { team } }', { p: pool.poolId });
  const input = { poolId: pool.poolId, app: pool.keyOf('b-app'), leaseSeconds: 600, idempotencyKey: 'b-lease' };
  const held = await t.gql<{ checkout: { id: string } }>(client.key, CHECKOUT, { input });
  if (!held.data) throw new Error(JSON.stringify(held.errors));
  await t.gql(client.key, CHECKOUT, { input: { ...input, idempotencyKey: 'b-denied' } }); // a denial
  const ended = await t.gql<{ checkout: { id: string } }>(adminKey, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('b-app'), leaseSeconds: 600 } });
  if (ended.data) await t.gql(adminKey, 'mutation($id: ID!) { checkin(leaseId: $id) { id } }', { id: ended.data.checkout.id });
  // Past usage (an ended draw, idle time, a denial) and its rollups, so every report query
  // walks over rows of B in the usage tables.
  const day = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 2 * 86_400_000;
  const hour = (h: number) => new Date(day + h * 3_600_000);
  const appId = pool.apps['b-app'];
  await t.app.get(HistoryImportService).import({
    organizationId: org.organizationId,
    poolId: pool.poolId,
    leases: [{ appId, principalId: client.principalId, acquiredAt: hour(1), endedAt: hour(3), idle: [{ startedAt: hour(2), endedAt: hour(2.5) }] }],
    denials: [{ appId, principalId: client.principalId, at: hour(1.5) }],
  });
  // A work unit with an outcome history, compute usage on it (one event priced by the
  // caller, one unpriced and then priced by a backdated price: a CORRECTION row), so the
  // ledger's queries and mutations walk over B's rows.
  const unit = await t.gql<{ upsertWorkUnit: { id: string } }>(client.key, 'mutation { upsertWorkUnit(input: { externalRef: "b-claim", process: "claims", team: "b-team" }) { id } }');
  if (!unit.data) throw new Error(JSON.stringify(unit.errors));
  const workUnitId = unit.data.upsertWorkUnit.id;
  for (const outcome of ['REJECTED', 'ACCEPTED']) {
    await t.gql(client.key, `mutation($w: ID!) { recordOutcome(input: { workUnitId: $w, outcome: ${outcome}, valueDimension: MARGIN, valueAmount: 10 }) { id } }`, { w: workUnitId });
  }
  const usage = { workUnitId, provider: 'b-provider', model: 'b-model', inputTokens: 100, outputTokens: 10, occurredAt: new Date(Date.now() - 60_000).toISOString() };
  const recorded = await t.gql(client.key, 'mutation($e: [ComputeUsageInput!]!) { recordComputeUsage(events: $e) { accepted } }', {
    e: [
      { ...usage, eventId: 'b-unpriced' },
      { ...usage, eventId: 'b-caller-priced', cost: 0.5 },
    ],
  });
  if (!recorded.data) throw new Error(JSON.stringify(recorded.errors));
  await t.gql(adminKey, 'mutation { setModelPrice(input: { provider: "b-provider", model: "b-model", inputPerMillion: 1, outputPerMillion: 2, effectiveFrom: "2020-01-01T00:00:00Z" }) }');
}
