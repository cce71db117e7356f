import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { LeaseStore } from '../src/lease-engine/lease-store';
import { TestApp } from './support/app';

const DAYS = 3;

interface Seeded {
  organizationId: string;
  adminKey: string;
  pools: { cae: string; agent: string };
  from: string;
  to: string;
}

/** Runs the built seed script as `npm run seed:demo` does, without a terminal (CI=true). */
function runSeed(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [join(__dirname, '..', 'dist', 'demo', 'seed-demo.js'), ...args], {
      env: { ...process.env, CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run seed:demo', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let seeded: Seeded;
  let stdout: string;

  beforeAll(async () => {
    const run = await runSeed(['--days', String(DAYS), '--name', `seed-demo-${randomUUID()}`]);
    if (run.code !== 0) throw new Error(`seed failed (${run.code}): ${run.stderr}\n${run.stdout}`);
    stdout = run.stdout;
    seeded = JSON.parse(stdout.trim().split('\n').at(-1)!) as Seeded;
    t = await TestApp.start();
    dataSource = t.app.get(DataSource);
  }, 180_000);

  afterAll(async () => {
    await t?.close();
  });

  const count = async (sql: string, params: unknown[] = [seeded.organizationId]) => Number((await dataSource.query(sql, params))[0].n);

  it('prints progress for every day and the admin key at the end', () => {
    for (let day = 1; day <= DAYS; day++)
      expect(stdout).toMatch(new RegExp(`day ${day}/${DAYS} \\(\\d{4}-\\d\\d-\\d\\d\\): [\\d,]+ leases, [\\d,]+ denials, [\\d,]+ compute events`));
    expect(stdout).toMatch(/done in [\d.]+ s/);
    expect(seeded.adminKey).toMatch(/^tp_/);
  });

  it('creates one organization with two pools and at least a dozen apps', async () => {
    expect(await count('SELECT count(*) AS n FROM organizations WHERE id = $1')).toBe(1);
    expect(await count('SELECT count(*) AS n FROM pools WHERE organization_id = $1')).toBe(2);
    expect(await count('SELECT count(*) AS n FROM apps WHERE organization_id = $1')).toBeGreaterThanOrEqual(12);
  });

  it("mirrors the seeded pools' configuration into Redis, as the API does", async () => {
    const store = t.app.get(LeaseStore);
    for (const poolId of [seeded.pools.cae, seeded.pools.agent]) {
      const status = await store.status(poolId);
      expect(status.epoch).not.toBeNull();
      expect(status.cap).toBeGreaterThan(0);
    }
  });

  it('writes leases and license ledger rows on each day of the history', async () => {
    const days = async (sql: string) => (await dataSource.query(sql, [seeded.organizationId])).map((r: { d: string }) => r.d);
    const expected = Array.from({ length: DAYS }, (_, i) => new Date(Date.parse(seeded.from) + i * 86_400_000).toISOString().slice(0, 10));
    expect(await days(`SELECT DISTINCT to_char(acquired_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d FROM leases WHERE organization_id = $1 ORDER BY d`)).toEqual(
      expected,
    );
    expect(
      await days(
        `SELECT DISTINCT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d FROM ledger_entries WHERE organization_id = $1 AND kind = 'LICENSE' ORDER BY d`,
      ),
    ).toEqual(expected);
  });

  it('leaves at least one app unused (shelfware) and records denials', async () => {
    expect(
      await count('SELECT count(*) AS n FROM apps a WHERE a.organization_id = $1 AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.app_id = a.id)'),
    ).toBeGreaterThanOrEqual(1);
    expect(await count('SELECT count(*) AS n FROM denials WHERE organization_id = $1')).toBeGreaterThan(0);
  });

  it('prices every compute row', async () => {
    expect(await count(`SELECT count(*) AS n FROM ledger_entries WHERE organization_id = $1 AND kind = 'COMPUTE'`)).toBeGreaterThan(0);
    expect(await count(`SELECT count(*) AS n FROM ledger_entries WHERE organization_id = $1 AND kind = 'COMPUTE' AND cost IS NULL`)).toBe(0);
  });

  it('creates compute budgets whose spent is the seeded usage of their scope and period', async () => {
    const res = await t.gql<{ computeBudgets: { name: string; scope: string; period: string; spent: number; reserved: number; limit: number }[] }>(
      seeded.adminKey,
      '{ computeBudgets { name scope period spent reserved limit } }',
    );
    expect(res.errors).toBeUndefined();
    const budgets = new Map(res.data!.computeBudgets.map((b) => [b.name, b]));
    expect(budgets.size).toBe(4);
    const monthStart = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1));
    const [{ cost }] = await dataSource.query(
      `SELECT coalesce(sum(round(cost * 1000000)), 0)::float8 / 1000000 AS cost FROM ledger_entries WHERE organization_id = $1 AND meter = 'COMPUTE' AND occurred_at >= $2`,
      [seeded.organizationId, monthStart],
    );
    expect(budgets.get('Company AI, monthly')).toMatchObject({ scope: 'ORGANIZATION', period: 'MONTH', reserved: 0, limit: 1500 });
    expect(budgets.get('Company AI, monthly')!.spent).toBeCloseTo(cost, 6);
    const [{ twin }] = await dataSource.query(
      `SELECT coalesce(sum(round(e.cost * 1000000)), 0)::float8 / 1000000 AS twin FROM ledger_entries e JOIN principals p ON p.id = e.principal_id
       WHERE e.organization_id = $1 AND e.meter = 'COMPUTE' AND p.name = 'twin-agent'`,
      [seeded.organizationId],
    );
    expect(budgets.get('Twin agent, in total')!.spent).toBeCloseTo(twin, 6);
  });

  it('records accepted, rejected and pending outcomes in both org unit kinds', async () => {
    const rows: { kind: string; outcome: string }[] = await dataSource.query(
      `SELECT DISTINCT w.org_unit_kind AS kind, o.outcome FROM work_unit_outcomes o JOIN work_units w ON w.id = o.work_unit_id WHERE o.organization_id = $1`,
      [seeded.organizationId],
    );
    expect(new Set(rows.map((r) => r.kind))).toEqual(new Set(['CHANGE', 'GOING_CONCERN']));
    expect(new Set(rows.map((r) => r.outcome))).toEqual(new Set(['ACCEPTED', 'REJECTED', 'PENDING']));
  });

  it('answers shelfwareReport and burnReport with the printed admin key', async () => {
    const shelfware = await t.gql<{ shelfwareReport: { peakInUse: number; apps: { app: { key: string }; leases: number }[] } }>(
      seeded.adminKey,
      'query($p: ID!, $from: DateTime!, $to: DateTime!) { shelfwareReport(poolId: $p, from: $from, to: $to) { peakInUse apps { app { key } leases } } }',
      { p: seeded.pools.cae, from: seeded.from, to: seeded.to },
    );
    expect(shelfware.errors).toBeUndefined();
    expect(shelfware.data!.shelfwareReport.peakInUse).toBeGreaterThan(0);
    expect(shelfware.data!.shelfwareReport.apps.find((a) => a.app.key === 'nastran-sol401')?.leases).toBe(0);
    const burn = await t.gql<{ burnReport: { slices: { orgUnitKind: string; computeCost: number; licenseCost: number }[] } }>(
      seeded.adminKey,
      'query($from: DateTime!, $to: DateTime!) { burnReport(from: $from, to: $to) { slices { orgUnitKind computeCost licenseCost } maturity } }',
      { from: seeded.from, to: new Date().toISOString() },
    );
    expect(burn.errors).toBeUndefined();
    for (const slice of burn.data!.burnReport.slices) expect(slice.computeCost + slice.licenseCost).toBeGreaterThan(0);
    expect(burn.data!.burnReport.slices.map((s) => s.orgUnitKind).sort()).toEqual(['CHANGE', 'GOING_CONCERN']);
  });
});
