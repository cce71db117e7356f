/**
 * npm run bench:reports — builds a large history with SQL in a scratch database
 * (tokenpool_bench_reports, recreated): one organization, 300 principals, a pool of 12 apps,
 * at least 1,000,000 leases and their ended draws over 90 days with a working-day rhythm,
 * idle intervals, a cap change, and denials (some followed by a grant: false denials). Then
 * it rolls the history up as the worker's job does, and times each pool report over 90 days
 * through GraphQL (in process, Fastify inject): cold (first call) and warm (median of 3).
 * Targets: every report under 1 s, simulateCap under 10 s.
 *
 * Ledger rows (license and compute) and the CSV exports belong to the ledger's own bench:
 * add their generation after `generateHistory` and their timings to `REPORTS` below.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';

const ROOT = join(__dirname, '..');
const ADMIN_URL = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const LEASES = Number(process.env.BENCH_LEASES ?? 1_000_000);
const DAYS = 90;

async function freshDatabase(name: string): Promise<string> {
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  console.log(`${label}: ${((performance.now() - started) / 1000).toFixed(2)} s`);
  return result;
}

// name, cost, share of the leases (agent tools most, the solver rarely, legacy-viewer never: shelfware)
const APPS: [string, number, number][] = [
  ['agent-search', 1, 0.2], ['agent-code', 2, 0.15], ['agent-sim', 3, 0.1], ['agent-doc', 4, 0.08], ['agent-review', 5, 0.07],
  ['viewer', 6, 0.15], ['post', 6, 0.05], ['cad', 21, 0.1], ['mesh', 21, 0.04], ['optim', 30, 0.03], ['solver', 50, 0.03], ['legacy-viewer', 6, 0],
];

/** The pool, its apps and cap history, principals; then leases, draws, idle intervals and denials by generate_series. */
async function generateHistory(db: Client, organizationId: string): Promise<string> {
  await db.query(
    `INSERT INTO principals (organization_id, name, kind, team, org_unit_kind)
     SELECT $1::uuid, 'user-' || g, CASE WHEN g % 5 = 0 THEN 'AGENT' ELSE 'USER' END, 'team-' || (g % 12), CASE WHEN g % 3 = 0 THEN 'CHANGE' ELSE 'GOING_CONCERN' END
     FROM generate_series(1, 300) g`,
    [organizationId],
  );
  const [pool] = (await db.query(`INSERT INTO pools (organization_id, name, cap, credit_hour_price, epoch, created_at) VALUES ($1, 'engineering', 1200, 0.85, 1, now() - interval '100 days') RETURNING id`, [organizationId])).rows;
  await db.query(`INSERT INTO pool_cap_changes (organization_id, pool_id, cap, at) VALUES ($1, $2, 1500, now() - interval '100 days'), ($1, $2, 1200, now() - interval '45 days')`, [organizationId, pool.id]);
  const appIds: string[] = [];
  for (const [key, cost] of APPS) {
    appIds.push((await db.query(`INSERT INTO apps (organization_id, pool_id, key, name, cost) VALUES ($1, $2, $3, $3, $4) RETURNING id`, [organizationId, pool.id, key, cost])).rows[0].id);
  }
  let cumulative = 0;
  const pick = APPS.map(([, , share], i) => `WHEN r_app < ${(cumulative += share).toFixed(4)} THEN ${i}`).join(' ');
  await timed(`generate ${LEASES.toLocaleString('en-US')}+ leases`, async () => {
    // Weekdays keep all their candidates, weekends one in five: about 0.78 of the candidates.
    await db.query(
      `CREATE TEMP TABLE gen AS
       WITH c AS (
         SELECT date_trunc('day', now()) - interval '${DAYS} days' + floor(random() * ${DAYS}) * interval '1 day' AS day,
                random() AS r_hour, random() AS r_when, random() AS r_len, random() AS r_app, random() AS r_idle, 1 + floor(random() * 300)::int AS who
         FROM generate_series(1, ${Math.ceil(LEASES / 0.74)}))
       SELECT gen_random_uuid() AS id, gen_random_uuid() AS draw_id, who, (CASE ${pick} ELSE 0 END) AS app, r_idle < 0.1 AS idle,
              day + CASE WHEN r_when < 0.85 THEN interval '8 hours' + r_hour * interval '10 hours' ELSE r_hour * interval '24 hours' END AS s,
              10 + power(r_len, 4) * 1800 AS seconds
       FROM c WHERE extract(isodow FROM day) < 6 OR random() < 0.2`,
    );
    await db.query(`DELETE FROM gen WHERE s + make_interval(secs => seconds) > now() - interval '2 minutes'`);
    await db.query(`ALTER TABLE gen ADD COLUMN principal_id uuid, ADD COLUMN app_id uuid, ADD COLUMN credits int, ADD COLUMN token bigint`);
    await db.query(
      `UPDATE gen SET principal_id = p.ids[who], app_id = ($1::uuid[])[app + 1], credits = ($2::int[])[app + 1]
       FROM (SELECT array_agg(id ORDER BY name) AS ids FROM principals WHERE organization_id = $3) p`,
      [appIds, APPS.map((a) => a[1]), organizationId],
    );
    await db.query(`UPDATE gen SET token = t.n FROM (SELECT id, row_number() OVER (ORDER BY s) AS n FROM gen) t WHERE t.id = gen.id`);
    await db.query(
      `INSERT INTO leases (id, organization_id, pool_id, app_id, principal_id, requested_by_principal_id, api_key_id, draw_id, credits, lease_seconds,
                           fencing_token, epoch, state, acquired_at, expires_at, ended_at, credit_seconds, end_reason)
       SELECT id, $1::uuid, $2::uuid, app_id, principal_id, principal_id, '00000000-0000-0000-0000-000000000000', draw_id, credits, 300, 1000000000000 + token, 1,
              'RELEASED', s, s + make_interval(secs => seconds), s + make_interval(secs => seconds), credits * seconds, 'released'
       FROM gen ORDER BY s`,
      [organizationId, pool.id],
    );
    await db.query(
      `INSERT INTO lease_draws (id, organization_id, pool_id, app_id, opener_lease_id, principal_id, credits, opened_at, ended_at,
                                credit_seconds, charged_credit_seconds, idle_credit_seconds, source)
       SELECT draw_id, $1::uuid, $2::uuid, app_id, id, principal_id, credits, s, s + make_interval(secs => seconds), credits * seconds, credits * seconds,
              CASE WHEN idle THEN credits * seconds * 0.4 ELSE 0 END, 'stream'
       FROM gen ORDER BY s + make_interval(secs => seconds)`,
      [organizationId, pool.id],
    );
    await db.query(
      `INSERT INTO lease_idle_intervals (organization_id, pool_id, lease_id, started_at, ended_at)
       SELECT $1::uuid, $2::uuid, id, s + make_interval(secs => seconds * 0.3), s + make_interval(secs => seconds * 0.7) FROM gen WHERE idle`,
      [organizationId, pool.id],
    );
    // Rows are inserted in time order, as live traffic writes them. 2 % of the grants come 20 s after a refusal of the same app (false denials), and 4 % see a refusal nobody retried.
    await db.query(
      `INSERT INTO denials (organization_id, pool_id, app_id, principal_id, requested, available, reason, at)
       SELECT $1::uuid, $2::uuid, app_id, principal_id, credits, 0, 'POOL_EXHAUSTED', s - interval '20 seconds' FROM gen WHERE random() < 0.02
       UNION ALL
       SELECT $1::uuid, $2::uuid, app_id, principal_id, credits, 0, CASE WHEN random() < 0.8 THEN 'POOL_EXHAUSTED' ELSE 'QUEUE_TIMEOUT' END, s + interval '3 hours'
       FROM gen WHERE random() < 0.04 AND s + interval '3 hours' < now()
       ORDER BY 8`,
      [organizationId, pool.id],
    );
  });
  const counts = (await db.query(`SELECT (SELECT count(*) FROM leases)::int AS leases, (SELECT count(*) FROM denials)::int AS denials, (SELECT count(*) FROM lease_idle_intervals)::int AS idle`)).rows[0];
  console.log(`history: ${counts.leases.toLocaleString('en-US')} leases and draws, ${counts.idle.toLocaleString('en-US')} idle intervals, ${counts.denials.toLocaleString('en-US')} denials`);
  await timed('analyze', () => db.query('ANALYZE'));
  return pool.id;
}

const REPORTS: { name: string; query: string; extra?: Record<string, unknown>; target: number }[] = [
  { name: 'shelfwareReport', target: 1, query: `query($p: ID!, $from: DateTime!, $to: DateTime!) { shelfwareReport(poolId: $p, from: $from, to: $to) { peakInUse p95InUse averageInUse utilization unusedCreditHours denials falseDenials suggestedCap estimatedSavings apps { app { key } leases creditHours peakCredits distinctPrincipals denials idleCreditHours } lapsedPrincipals { id } } }` },
  { name: 'poolUsage (HOUR)', target: 1, extra: { b: 'HOUR' }, query: `query($p: ID!, $from: DateTime!, $to: DateTime!, $b: Bucket!) { poolUsage(poolId: $p, from: $from, to: $to, bucket: $b) { start cap peakInUse averageInUse denials falseDenials } }` },
  { name: 'poolUsage (DAY)', target: 1, extra: { b: 'DAY' }, query: `query($p: ID!, $from: DateTime!, $to: DateTime!, $b: Bucket!) { poolUsage(poolId: $p, from: $from, to: $to, bucket: $b) { start cap peakInUse averageInUse denials falseDenials } }` },
  { name: 'usageHistogram', target: 1, query: `query($p: ID!, $from: DateTime!, $to: DateTime!) { usageHistogram(poolId: $p, from: $from, to: $to) { credits shareOfTime } }` },
  { name: 'simulateCap', target: 10, extra: { cap: 600 }, query: `query($p: ID!, $from: DateTime!, $to: DateTime!, $cap: Int!) { simulateCap(poolId: $p, cap: $cap, from: $from, to: $to) { requests denied delayed deniedCreditHours longestWaitSeconds } }` },
];

async function main(): Promise<void> {
  const databaseUrl = await freshDatabase('tokenpool_bench_reports');
  const env = { DATABASE_URL: databaseUrl, DATABASE_CREATE: 'false', MIGRATIONS_RUN: 'false', REDIS_PREFIX: `tpbench-reports:${process.pid}`, LOG_LEVEL: 'silent', RATE_LIMIT_PER_KEY: '1000000' };
  Object.assign(process.env, env);
  execFileSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'migrate'], { env: process.env, stdio: 'ignore' });
  const created = JSON.parse(execFileSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'org', 'create', 'bench'], { env: process.env }).toString());
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  const poolId = await generateHistory(db, created.organizationId);
  await db.end();

  // Loaded only now: the configuration is read from the environment set above.
  const { createApiApp } = await import('../src/app.setup');
  const { UsageRollupsService } = await import('../src/reports/usage-rollups.service');
  const { DataSource } = await import('typeorm');
  const app = await createApiApp();
  await app.init();
  const fastify = app.getHttpAdapter().getInstance();
  await fastify.ready();
  try {
    const rollups = app.get(UsageRollupsService);
    const pool = { id: poolId, organizationId: created.organizationId };
    await timed('first rollup of the history (the job catching up, 7 days per run)', async () => {
      while ((await rollups.rollPool(pool)) > 2);
    });
    // As autovacuum would after such a load.
    await app.get(DataSource).query('ANALYZE');
    await timed('one steady-state run of the rollup job (every pool, last 2 hours again)', () => rollups.rollAll());
    const to = new Date();
    const from = new Date(to.getTime() - DAYS * 86_400_000);
    const rows = ['report (90 days) | cold | warm (median of 3) | target', '--- | ---: | ---: | ---:'];
    for (const report of REPORTS) {
      const times: number[] = [];
      for (let i = 0; i < 4; i++) {
        const started = performance.now();
        const res = await fastify.inject({
          method: 'POST',
          url: '/graphql',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${created.adminKey}` },
          payload: JSON.stringify({ query: report.query, variables: { p: poolId, from: from.toISOString(), to: to.toISOString(), ...report.extra } }),
        });
        times.push((performance.now() - started) / 1000);
        const body = res.json() as { errors?: unknown };
        if (body.errors) throw new Error(`${report.name}: ${JSON.stringify(body.errors)}`);
        if (i === 0 && report.name === 'simulateCap') console.log(`simulateCap at 600 credits: ${JSON.stringify(res.json())}`);
      }
      const warm = times.slice(1).sort((a, b) => a - b)[1];
      rows.push(`${report.name} | ${times[0].toFixed(3)} s | ${warm.toFixed(3)} s | < ${report.target} s`);
    }
    console.log(rows.join('\n'));
  } finally {
    await app.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
