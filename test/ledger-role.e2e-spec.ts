import { randomBytes, randomUUID } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { appRoleToGrant } from '../src/common/database/migrate';
import { LeaseSweepService } from '../src/leases/lease-sweep.service';
import { LedgerPartitionsService } from '../src/ledger/ledger-partitions.service';
import { WorkerModule } from '../src/worker.module';
import { TestApp } from './support/app';
import { CHECKIN, CHECKOUT, createPool, LeaseShape } from './support/catalog';
import { runCli, startApi, startWorker } from './support/processes';

const WARNING = 'the ledger is protected by triggers only';

/**
 * The API and the worker connect as a role that may SELECT and INSERT the ledger and nothing
 * more; the owner (DATABASE_OWNER_URL) migrates and grants. Proven against the real PostgreSQL
 * with a login role of this run (roles are cluster-wide: named after the run, dropped at the end).
 */
describe('the database roles: a role that cannot rewrite history', () => {
  const ownerUrl = process.env.DATABASE_URL!;
  const saved = { ...process.env };
  const role = `${process.env.TP_TEST_DATABASE}_app_${randomBytes(3).toString('hex')}`.slice(0, 63);
  const password = randomBytes(12).toString('hex');
  const appUrl = (() => {
    const url = new URL(ownerUrl);
    url.username = role;
    url.password = password;
    return url.toString();
  })();
  let owner: Client;
  let asApp: Client;
  let t: TestApp;
  let worker: INestApplicationContext;
  let partition: string;
  let ledgerTables: string[];
  const futurePartitions: string[] = [];

  beforeAll(async () => {
    owner = new Client({ connectionString: ownerUrl });
    await owner.connect();
    await owner.query(`CREATE ROLE "${role}" LOGIN PASSWORD '${password}'`);
    // The API applies migrations (none pending) and the grants at start, as the owner.
    Object.assign(process.env, { DATABASE_URL: appUrl, DATABASE_OWNER_URL: ownerUrl, MIGRATIONS_RUN: 'true' });
    t = await TestApp.start();
    worker = await NestFactory.createApplicationContext(WorkerModule, { logger: false });
    asApp = new Client({ connectionString: appUrl });
    await asApp.connect();
    partition = (
      await owner.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'ledger_entries'::regclass ORDER BY 1 LIMIT 1`,
      )
    ).rows[0].name;
    // ledger_seals comes with the seals' migration: checked when it is there.
    const present = await owner.query<{ name: string }>(
      `SELECT name FROM unnest(ARRAY['ledger_entries', 'ledger_event_keys', 'ledger_seals']) name WHERE to_regclass(name) IS NOT NULL ORDER BY 1`,
    );
    ledgerTables = present.rows.map((r) => r.name);
  });

  afterAll(async () => {
    await asApp?.end();
    await worker?.close();
    await t?.close();
    for (const name of futurePartitions) await owner.query(`DROP TABLE IF EXISTS "${name}"`);
    // The role's grants live in the run's database: drop them, then the role.
    await owner.query(`DROP OWNED BY "${role}"`);
    await owner.query(`DROP ROLE IF EXISTS "${role}"`);
    await owner.end();
    process.env = saved;
  });

  /** The statement, run as the application's role, is refused for want of a privilege or of ownership. */
  async function refused(sql: string): Promise<void> {
    const error = await asApp.query(sql).then(
      () => null,
      (err: { code?: string; message: string }) => err,
    );
    expect({ sql, refused: error === null ? 'it ran' : error.code === '42501' || /must be owner/.test(error.message) ? true : error.message }).toEqual({
      sql,
      refused: true,
    });
  }

  it('connects the API and the worker as the restricted role, which owns nothing and is no superuser', async () => {
    const [api] = await t.app.get(DataSource).query('SELECT current_user AS name');
    const [fromWorker] = await worker.get(DataSource).query('SELECT current_user AS name');
    expect([api.name, fromWorker.name]).toEqual([role, role]);
    const { rows } = await owner.query(
      `SELECT r.rolsuper, (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid) AS owned FROM pg_roles r WHERE r.rolname = $1`,
      [role],
    );
    expect(rows[0]).toEqual({ rolsuper: false, owned: 0 });
  });

  it('grants SELECT and INSERT on the ledger tables and nothing else, and nothing at all on the ledger partitions', async () => {
    expect(ledgerTables).toEqual(expect.arrayContaining(['ledger_entries', 'ledger_event_keys']));
    const privileges = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'];
    const held = async (table: string) =>
      (await owner.query<{ p: string }>('SELECT p FROM unnest($1::text[]) p WHERE has_table_privilege($2, $3, p)', [privileges, role, table])).rows.map(
        (r) => r.p,
      );
    for (const table of ledgerTables) expect({ table, held: await held(table) }).toEqual({ table, held: ['SELECT', 'INSERT'] });
    expect(await held(partition)).toEqual([]);
    expect(await held('ledger_entries_default')).toEqual([]);
    // Ordinary tables (also those the ledger's triggers write) keep the usual DML.
    for (const table of ['work_unit_totals', 'leases', 'work_unit_outcomes']) {
      expect({ table, held: await held(table) }).toEqual({ table, held: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] });
    }
  });

  it('refuses UPDATE, DELETE and TRUNCATE of ledger rows, on the parents and on a partition directly', async () => {
    expect.hasAssertions();
    for (const table of ledgerTables) {
      await refused(`UPDATE ${table} SET organization_id = organization_id`);
      await refused(`DELETE FROM ${table}`);
      await refused(`TRUNCATE ${table}`);
    }
    for (const table of [partition, 'ledger_entries_default']) {
      await refused(`UPDATE ${table} SET cost = 0`);
      await refused(`DELETE FROM ${table}`);
      await refused(`TRUNCATE ${table}`);
      await refused(`SELECT count(*) FROM ${table}`);
    }
  });

  it('refuses dropping or disabling the triggers, altering or dropping the tables, and switching triggers off for the session', async () => {
    expect.hasAssertions();
    await refused('DROP TRIGGER tr_ledger_entries_append_only ON ledger_entries');
    await refused('DROP TRIGGER tr_ledger_entries_totals ON ledger_entries');
    await refused(`DROP TRIGGER tr_ledger_entries_no_truncate ON ${partition}`);
    await refused('DROP TRIGGER tr_ledger_event_keys_append_only ON ledger_event_keys');
    await refused('ALTER TABLE ledger_entries DISABLE TRIGGER tr_ledger_entries_append_only');
    await refused('ALTER TABLE ledger_entries DISABLE TRIGGER ALL');
    await refused(`ALTER TABLE ${partition} DISABLE TRIGGER ALL`);
    await refused('ALTER TABLE ledger_event_keys DISABLE TRIGGER USER');
    await refused('ALTER TABLE ledger_entries ADD COLUMN forged text');
    await refused(`ALTER TABLE ledger_entries DETACH PARTITION ${partition}`);
    await refused('ALTER TABLE ledger_event_keys OWNER TO CURRENT_USER');
    for (const table of [...ledgerTables, partition]) await refused(`DROP TABLE ${table}`);
    await refused('DROP FUNCTION ledger_refuse_change() CASCADE');
    await refused(`CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`);
    await refused('ALTER FUNCTION ledger_ensure_partitions(timestamptz, integer) SECURITY INVOKER');
    await refused('SET session_replication_role = replica');
  });

  it('runs the application as that role: compute usage and a license draw are recorded and read back', async () => {
    const { adminKey } = await t.organization('ledger-role');
    const agent = await t.principalWithKey(adminKey, 'CLIENT', { kind: 'AGENT' });
    const model = `m-${randomUUID()}`;
    const price = await t.gql(adminKey, 'mutation($input: ModelPriceInput!) { setModelPrice(input: $input) }', {
      input: { provider: 'openai', model, inputPerMillion: 2, outputPerMillion: 8, effectiveFrom: new Date(Date.now() - 86_400_000).toISOString() },
    });
    expect(price.errors).toBeUndefined();
    const unit = (await t.gql<{ upsertWorkUnit: { id: string } }>(agent.key, 'mutation { upsertWorkUnit(input: { externalRef: "role-1" }) { id } }')).data!
      .upsertWorkUnit.id;
    const events = [1, 2].map(() => ({
      eventId: randomUUID(),
      provider: 'openai',
      model,
      inputTokens: 1_000_000,
      outputTokens: 500_000,
      workUnitId: unit,
      occurredAt: new Date().toISOString(),
    }));
    const recorded = await t.gql<{ recordComputeUsage: { accepted: number; duplicates: number } }>(
      agent.key,
      'mutation($events: [ComputeUsageInput!]!) { recordComputeUsage(events: $events) { accepted duplicates } }',
      { events },
    );
    expect(recorded.data?.recordComputeUsage).toEqual({ accepted: 2, duplicates: 0 });
    // A retry is a duplicate: the idempotency keys are read back through the restricted role.
    const again = await t.gql<{ recordComputeUsage: { duplicates: number } }>(
      agent.key,
      'mutation($events: [ComputeUsageInput!]!) { recordComputeUsage(events: $events) { duplicates } }',
      { events },
    );
    expect(again.data?.recordComputeUsage.duplicates).toBe(2);

    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'solver', cost: 2, shareScope: 'WORK_UNIT', minimumChargeSeconds: 1800 }] });
    const lease = (await t.gql<{ checkout: LeaseShape }>(agent.key, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('solver'), workUnitId: unit } }))
      .data!.checkout;
    expect(lease.state).toBe('ACTIVE');
    expect((await t.gql(agent.key, CHECKIN, { id: lease.id })).errors).toBeUndefined();
    await worker.get(LeaseSweepService).sweepAll();

    const totals = await t.gql<{ workUnit: Record<string, number> }>(
      agent.key,
      'query($id: ID!) { workUnit(id: $id) { computeInputTokens computeOutputTokens computeCost licenseCreditHours licenseCost } }',
      { id: unit },
    );
    // 2 x (1M input at 2 + 0.5M output at 8) = 12; one draw of 2 credits at the 30-minute minimum = 1 credit-hour at 1.5.
    expect(totals.data?.workUnit).toEqual({
      computeInputTokens: 2_000_000,
      computeOutputTokens: 1_000_000,
      computeCost: 12,
      licenseCreditHours: 1,
      licenseCost: 1.5,
    });
    const rows = await asApp.query<{ meter: string; n: number }>(
      'SELECT meter, count(*)::int AS n FROM ledger_entries WHERE work_unit_id = $1 GROUP BY meter ORDER BY meter',
      [unit],
    );
    expect(rows.rows).toEqual([
      { meter: 'COMPUTE', n: 2 },
      { meter: 'LICENSE', n: 1 },
    ]);
    // Sealing and verifying (ledger_seals) work as that role too.
    const sealed = await t.gql<{ sealLedger: { rows: number } | null }>(adminKey, 'mutation { sealLedger { rows } }');
    expect(sealed.errors).toBeUndefined();
    expect(sealed.data?.sealLedger?.rows).toBe(3);
    const verified = await t.gql<{ verifyLedger: { ok: boolean } }>(adminKey, '{ verifyLedger { ok } }');
    expect(verified.data?.verifyLedger.ok).toBe(true);
  });

  it("keeps the worker's partition job working as that role, and gives the new partitions no privilege", async () => {
    const created = await worker.get(LedgerPartitionsService).ensureAhead(new Date('2091-01-15T00:00:00Z'));
    futurePartitions.push('ledger_entries_2091_01', 'ledger_entries_2091_02', 'ledger_entries_2091_03', 'ledger_entries_2091_04');
    expect(created).toBe(4);
    // Called directly by the role too; idempotent.
    expect((await asApp.query('SELECT ledger_ensure_partitions($1, 2) AS n', ['2091-01-01T00:00:00Z'])).rows[0].n).toBe(0);
    const { rows } = await owner.query<{ owner: string; acl: string | null; truncate_trigger: boolean }>(
      `SELECT pg_get_userbyid(c.relowner) AS owner, c.relacl::text AS acl,
              EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = 'tr_ledger_entries_no_truncate') AS truncate_trigger
       FROM pg_class c WHERE c.relname = 'ledger_entries_2091_02'`,
    );
    expect(rows[0]).toEqual({ owner: new URL(ownerUrl).username, acl: null, truncate_trigger: true });
    await refused('UPDATE ledger_entries_2091_02 SET cost = 0');
    await refused('DROP TABLE ledger_entries_2091_02');
  });

  it('applies the grants again on every migrate, idempotently, and skips them when both URLs name one role', async () => {
    for (let i = 0; i < 2; i++) {
      const run = await runCli(['migrate'], { DATABASE_URL: appUrl, DATABASE_OWNER_URL: ownerUrl });
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    }
    const held = await owner.query<{ p: string }>(
      `SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p WHERE has_table_privilege($1, 'ledger_entries', p)`,
      [role],
    );
    expect(held.rows.map((r) => r.p)).toEqual(['SELECT', 'INSERT']);
    expect(await appRoleToGrant(ownerUrl, ownerUrl)).toBeUndefined();
    expect(await appRoleToGrant(appUrl, undefined)).toBeUndefined();
    expect(await appRoleToGrant(appUrl, ownerUrl)).toBe(role);
  });

  it('warns at start, in one line without the URL, when the role connected could rewrite the ledger (no DATABASE_OWNER_URL), and not otherwise', async () => {
    const single = { DATABASE_URL: ownerUrl, DATABASE_OWNER_URL: '', LOG_LEVEL: 'warn', MIGRATIONS_RUN: 'false' };
    const api = await startApi(single);
    const lonely = await startWorker(single);
    // Both URLs (what npm start and compose give), and the restricted role alone (the Helm chart's worker).
    const separate = await startApi({ LOG_LEVEL: 'warn', MIGRATIONS_RUN: 'false' });
    const restricted = await startWorker({ DATABASE_URL: appUrl, DATABASE_OWNER_URL: '', LOG_LEVEL: 'warn' });
    try {
      for (const output of [api.output, lonely.output]) {
        const lines = output.split('\n').filter((line) => line.includes(WARNING));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain('DATABASE_OWNER_URL is not set');
        expect(lines[0]).not.toContain('postgres://');
      }
      for (const output of [separate.output, restricted.output]) {
        expect(output).not.toContain(WARNING);
        expect(output).not.toContain(password);
      }
    } finally {
      await Promise.all([api.stop(), lonely.stop(), separate.stop(), restricted.stop()]);
    }
  });
});
