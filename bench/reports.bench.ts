/**
 * npm run bench:reports — builds a large history with SQL in a scratch database
 * (tokenpool_bench_reports, recreated): one organization, 300 principals, a pool of 12 apps,
 * at least 1,000,000 leases and their ended draws over 90 days with a working-day rhythm,
 * idle intervals, a cap change, and denials (some followed by a grant: false denials). Then
 * it rolls the history up as the worker's job does, and times each pool report over 90 days
 * through GraphQL (in process, Fastify inject): cold (first call) and warm (median of 3).
 * Targets: every report under 1 s, simulateCap under 10 s.
 *
 * Then the ledger (generateLedger): 250,000 work units in both org unit kinds, with teams,
 * processes and outcomes (some accepted with a value, some changed twice), a LICENSE row for
 * every draw (60 % on a work unit) and 4,000,000 COMPUTE rows (85 % on a work unit, 2 %
 * unpriced and half of those priced later by a CORRECTION), inserted a few days per
 * statement so the ledger's triggers keep work_unit_totals and ledger_daily_usage as live
 * traffic does. It times burnReport, attributionCoverage and costPerOutcome over 90 days the
 * same way (targets: under 1 s), and both CSV exports over 90 days through real HTTP on
 * 127.0.0.1, read by a separate client process that counts the rows as they stream in
 * (target: 50,000 rows/s). The ledger rows carry no idempotency keys (ledger_event_keys):
 * nothing here reads them. Last, it seals the whole ledger in one seal (as the first seal after
 * an upgrade would), times verifyLedger recomputing it, and streams the auditor's export.
 */
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { createBenchOrganization, freshDatabase } from './bench-support';

const ROOT = join(__dirname, '..');
const execFileAsync = promisify(execFile);
const LEASES = Number(process.env.BENCH_LEASES ?? 1_000_000);
const WORK_UNITS = Number(process.env.BENCH_WORK_UNITS ?? 250_000);
const COMPUTE_ROWS = Number(process.env.BENCH_COMPUTE_ROWS ?? 4_000_000);
const DAYS = 90;

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  return (await timedResult(label, work)).result;
}

async function timedResult<T>(label: string, work: () => Promise<T>): Promise<{ result: T; seconds: number }> {
  const started = performance.now();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  console.log(`${label}: ${seconds.toFixed(2)} s`);
  return { result, seconds };
}

// name, cost, share of the leases (agent tools most, the solver rarely, legacy-viewer never: shelfware)
const APPS: [string, number, number][] = [
  ['agent-search', 1, 0.2],
  ['agent-code', 2, 0.15],
  ['agent-sim', 3, 0.1],
  ['agent-doc', 4, 0.08],
  ['agent-review', 5, 0.07],
  ['viewer', 6, 0.15],
  ['post', 6, 0.05],
  ['cad', 21, 0.1],
  ['mesh', 21, 0.04],
  ['optim', 30, 0.03],
  ['solver', 50, 0.03],
  ['legacy-viewer', 6, 0],
];

/** The pool, its apps and cap history, principals; then leases, draws, idle intervals and denials by generate_series. */
async function generateHistory(db: Client, organizationId: string): Promise<string> {
  await db.query(
    `INSERT INTO principals (organization_id, name, kind, team, org_unit_kind)
     SELECT $1::uuid, 'user-' || g, CASE WHEN g % 5 = 0 THEN 'AGENT' ELSE 'USER' END, 'team-' || (g % 12), CASE WHEN g % 3 = 0 THEN 'CHANGE' ELSE 'GOING_CONCERN' END
     FROM generate_series(1, 300) g`,
    [organizationId],
  );
  const [pool] = (
    await db.query(
      `INSERT INTO pools (organization_id, name, cap, credit_hour_price, epoch, created_at) VALUES ($1, 'engineering', 1200, 0.85, 1, now() - interval '100 days') RETURNING id`,
      [organizationId],
    )
  ).rows;
  await db.query(
    `INSERT INTO pool_cap_changes (organization_id, pool_id, cap, at) VALUES ($1, $2, 1500, now() - interval '100 days'), ($1, $2, 1200, now() - interval '45 days')`,
    [organizationId, pool.id],
  );
  const appIds: string[] = [];
  for (const [key, cost] of APPS) {
    appIds.push(
      (
        await db.query(`INSERT INTO apps (organization_id, pool_id, key, name, cost) VALUES ($1, $2, $3, $3, $4) RETURNING id`, [
          organizationId,
          pool.id,
          key,
          cost,
        ])
      ).rows[0].id,
    );
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
  const counts = (
    await db.query(
      `SELECT (SELECT count(*) FROM leases)::int AS leases, (SELECT count(*) FROM denials)::int AS denials, (SELECT count(*) FROM lease_idle_intervals)::int AS idle`,
    )
  ).rows[0];
  console.log(
    `history: ${counts.leases.toLocaleString('en-US')} leases and draws, ${counts.idle.toLocaleString('en-US')} idle intervals, ${counts.denials.toLocaleString('en-US')} denials`,
  );
  await timed('analyze', () => db.query('ANALYZE'));
  return pool.id;
}

// process, its org unit kind: daily operations (going concern) or the change organisation
const PROCESSES: [string, string][] = [
  ['claims-handling', 'GOING_CONCERN'],
  ['quote', 'GOING_CONCERN'],
  ['purchasing', 'GOING_CONCERN'],
  ['support', 'GOING_CONCERN'],
  ['invoice-check', 'GOING_CONCERN'],
  ['code-review', 'GOING_CONCERN'],
  ['onboarding', 'GOING_CONCERN'],
  ['design-change', 'CHANGE'],
  ['crash-simulation', 'CHANGE'],
  ['research', 'CHANGE'],
  ['pilot', 'CHANGE'],
  ['migration', 'CHANGE'],
];
// index, provider, model, input / cached input / output price per million, share of the calls (the last is unpriced)
const MODELS: [number, string, string, number, number, number, number][] = [
  [0, 'openai', 'gpt-4.1-mini', 0.4, 0.1, 1.6, 0.3],
  [1, 'openai', 'gpt-4.1', 2, 0.5, 8, 0.2],
  [2, 'anthropic', 'claude-haiku-4', 1, 0.1, 5, 0.2],
  [3, 'anthropic', 'claude-sonnet-4', 3, 0.3, 15, 0.15],
  [4, 'google', 'gemini-2.5-pro', 1.25, 0.31, 10, 0.13],
  [5, 'local', 'llama-70b', 0.6, 0.6, 0.6, 0.02],
];
const UNPRICED_MODEL = 5;
/** Days per INSERT: each statement's rows go through the ledger's triggers in one transition table. */
const LEDGER_CHUNK_DAYS = 5;

/**
 * Work units (table bench_work_units, n = 0 .. WORK_UNITS - 1, unlogged and not temporary so
 * that both loading connections see it): unit n starts on day n % 90 of the
 * window and gets rows on that day and the two after it. Its outcome is recorded 2 to 6 days
 * after it starts (none when that is still ahead): half ACCEPTED (70 % of those with a
 * value), 15 % REJECTED, 5 % an explicit PENDING, the rest never decided; 10 % were REJECTED
 * a day before their final record.
 */
async function generateWorkUnits(db: Client, organizationId: string): Promise<void> {
  await db.query(
    `CREATE UNLOGGED TABLE bench_work_units AS
     WITH w AS (
       SELECT n, gen_random_uuid() AS id, n % ${DAYS} AS start_day, (n / 7) % ${PROCESSES.length} AS proc,
              random() AS r_owner, random() AS r_outcome, random() AS r_value, random() AS r_twice,
              date_trunc('day', now()) - interval '${DAYS} days' + (n % ${DAYS} + 2 + random() * 4) * interval '1 day' AS decided
       FROM generate_series(0, ${WORK_UNITS - 1}) n)
     SELECT w.*, CASE WHEN decided > now() - interval '1 minute' THEN NULL
                      WHEN r_outcome < 0.5 THEN 'ACCEPTED' WHEN r_outcome < 0.65 THEN 'REJECTED' WHEN r_outcome < 0.7 THEN 'PENDING' END AS outcome,
            CASE WHEN r_outcome < 0.5 AND r_value < 0.7 THEN round((50 + r_value * 2000)::numeric, 2) END AS value_amount
     FROM w`,
  );
  await db.query(`UPDATE bench_work_units SET value_amount = NULL WHERE outcome IS NULL`);
  await db.query(`CREATE UNIQUE INDEX ON bench_work_units (n)`);
  await db.query(`ANALYZE bench_work_units`);
  await db.query(
    `INSERT INTO work_units (id, organization_id, external_ref, owner, team, process, task, org_unit_kind, outcome, value_dimension, value_amount,
                             outcome_recorded_at, created_by_principal_id, created_at, updated_at)
     SELECT w.id, $1::uuid, 'wu-' || w.n, CASE WHEN w.r_owner < 0.8 THEN 'user-' || (1 + w.n % 300) END, 'team-' || (w.n % 12),
            ($2::text[])[w.proc + 1], 'task-' || (w.n % 5), ($3::text[])[w.proc + 1], coalesce(w.outcome, 'PENDING'),
            CASE WHEN w.value_amount IS NOT NULL THEN 'MARGIN' END, w.value_amount,
            CASE WHEN w.outcome IS NOT NULL THEN w.decided END, p.ids[1 + w.n % 300],
            date_trunc('day', now()) - interval '${DAYS} days' + w.start_day * interval '1 day', coalesce(CASE WHEN w.outcome IS NOT NULL THEN w.decided END, now())
     FROM bench_work_units w, (SELECT array_agg(id ORDER BY name) AS ids FROM principals WHERE organization_id = $1) p`,
    [organizationId, PROCESSES.map((p) => p[0]), PROCESSES.map((p) => p[1])],
  );
  await db.query(
    `INSERT INTO work_unit_outcomes (organization_id, work_unit_id, recorded_at, recorded_by_principal_id, before, outcome, value_dimension, value_amount)
     SELECT $1::uuid, w.id, w.decided - interval '1 day', p.ids[1 + w.n % 300], NULL, 'REJECTED', NULL, NULL
     FROM bench_work_units w, (SELECT array_agg(id ORDER BY name) AS ids FROM principals WHERE organization_id = $1) p
     WHERE w.outcome IS NOT NULL AND w.r_twice < 0.1
     UNION ALL
     SELECT $1::uuid, w.id, w.decided, p.ids[1 + w.n % 300], CASE WHEN w.r_twice < 0.1 THEN '{"outcome":"REJECTED"}'::jsonb END, w.outcome,
            CASE WHEN w.value_amount IS NOT NULL THEN 'MARGIN' END, w.value_amount
     FROM bench_work_units w, (SELECT array_agg(id ORDER BY name) AS ids FROM principals WHERE organization_id = $1) p
     WHERE w.outcome IS NOT NULL
     ORDER BY 3`,
    [organizationId],
  );
}

/** The work unit n (see generateWorkUnits) of a row on day `dayIndex`: one that started that day or up to two days before. */
const unitOf = (dayIndex: string) =>
  `(greatest(least(${dayIndex}, ${DAYS - 1}) - floor(random() * 3)::int, 0) + ${DAYS} * floor(random() * ${Math.floor(WORK_UNITS / DAYS)})::int)`;

const BASE_DAY = `(date_trunc('day', now()) - interval '${DAYS} days')`;

/** License rows of the draws that ended in days [first, first + LEDGER_CHUNK_DAYS), dated by the draw's end; 60 % on a work unit. */
async function insertLicenseRows(db: Client, pool: { organizationId: string; poolId: string }, first: number): Promise<void> {
  await db.query(
    `INSERT INTO ledger_entries (id, organization_id, event_key, kind, meter, work_unit_id, principal_id, occurred_at, started_at, credit_seconds,
                                 idle_credit_seconds, credit_hour_price, cost, currency, cost_source, lease_id, draw_id, pool_id, app_id)
     SELECT nextval('ledger_entries_id_seq'), $1::uuid, 'draw:' || g.draw_id, 'LICENSE', 'LICENSE', wu.id, g.principal_id, g.e, g.s, g.credits * g.seconds,
            CASE WHEN g.idle THEN g.credits * g.seconds * 0.4 ELSE 0 END, 0.85, round((g.credits * g.seconds / 3600 * 0.85)::numeric, 9),
            o.currency, 'PRICE_TABLE', g.id, g.draw_id, $2::uuid, g.app_id
     FROM (SELECT gen.*, e, CASE WHEN random() < 0.6 THEN ${unitOf(`floor(extract(epoch FROM e - ${BASE_DAY}) / 86400)::int`)} END AS n
           FROM gen, LATERAL (SELECT gen.s + make_interval(secs => gen.seconds) AS e) x
           WHERE e >= ${BASE_DAY} + ${first} * interval '1 day' AND (e < ${BASE_DAY} + ${first + LEDGER_CHUNK_DAYS} * interval '1 day' OR ${first + LEDGER_CHUNK_DAYS >= DAYS})) g
     LEFT JOIN bench_work_units wu ON wu.n = g.n
     JOIN organizations o ON o.id = $1
     ORDER BY g.e`,
    [pool.organizationId, pool.poolId],
  );
}

const MODEL_ROWS = `(VALUES ${MODELS.map((m) => `(${m[0]}, '${m[1]}', '${m[2]}', ${m[3]}::numeric, ${m[4]}::numeric, ${m[5]}::numeric)`).join(', ')}) AS m(i, provider, model, input_price, cached_price, output_price)`;

/** Compute rows of days [first, first + LEDGER_CHUNK_DAYS): weekdays 8:00 to 18:00 mostly, weekends a fifth; 85 % on a work unit. */
async function insertComputeRows(db: Client, organizationId: string, first: number): Promise<void> {
  let cumulative = 0;
  const pickModel = MODELS.map((m) => `WHEN r_model < ${(cumulative += m[6]).toFixed(4)} THEN ${m[0]}`).join(' ');
  const candidates = Math.ceil((COMPUTE_ROWS * LEDGER_CHUNK_DAYS) / DAYS / 0.77);
  await db.query(
    `INSERT INTO ledger_entries (id, organization_id, event_key, kind, meter, work_unit_id, principal_id, occurred_at,
                                 input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
                                 input_price_per_million, cached_input_price_per_million, output_price_per_million, cost, currency, cost_source, provider, model)
     SELECT c.id, $1::uuid, 'compute:bench-' || c.id, 'COMPUTE', 'COMPUTE', wu.id, p.ids[c.who], c.at,
            c.input, c.cached, c.output, c.reasoning,
            CASE WHEN c.model <> ${UNPRICED_MODEL} THEN m.input_price END, CASE WHEN c.model <> ${UNPRICED_MODEL} THEN m.cached_price END,
            CASE WHEN c.model <> ${UNPRICED_MODEL} THEN m.output_price END,
            CASE WHEN c.model <> ${UNPRICED_MODEL} THEN round(((c.input - c.cached) * m.input_price + c.cached * m.cached_price + c.output * m.output_price) / 1e6, 9) END,
            o.currency, CASE WHEN c.model <> ${UNPRICED_MODEL} THEN 'PRICE_TABLE' ELSE 'UNPRICED' END, m.provider, m.model
     FROM (
       SELECT nextval('ledger_entries_id_seq') AS id, at, who, model, input, floor(input * r_cache * 0.6)::bigint AS cached, output,
              floor(output * r_reason * 0.3)::bigint AS reasoning, CASE WHEN r_unit < 0.85 THEN ${unitOf('day')} END AS n
       FROM (
         SELECT day, ${BASE_DAY} + day * interval '1 day' + CASE WHEN r_when < 0.85 THEN interval '8 hours' + r_hour * interval '10 hours' ELSE r_hour * interval '24 hours' END AS at,
                1 + floor(random() * 300)::int AS who, CASE ${pickModel} ELSE 0 END AS model,
                200 + floor(power(random(), 2) * 20000)::bigint AS input, 50 + floor(power(random(), 2) * 4000)::bigint AS output,
                random() AS r_cache, random() AS r_reason, random() AS r_unit
         FROM (SELECT ${first} + floor(random() * ${LEDGER_CHUNK_DAYS})::int AS day, random() AS r_when, random() AS r_hour, random() AS r_model
               FROM generate_series(1, ${candidates})) d
         WHERE day < ${DAYS} AND (extract(isodow FROM ${BASE_DAY} + day * interval '1 day') < 6 OR random() < 0.2)) t
       WHERE at < now() - interval '1 minute') c
     JOIN ${MODEL_ROWS} ON m.i = c.model
     LEFT JOIN bench_work_units wu ON wu.n = c.n
     JOIN organizations o ON o.id = $1
     CROSS JOIN (SELECT array_agg(id ORDER BY name) AS ids FROM principals WHERE organization_id = $1) p
     ORDER BY c.at`,
    [organizationId],
  );
}

/**
 * LICENSE rows for every draw of generateHistory (temp table gen, so on `db`), COMPUTE rows,
 * then the CORRECTIONs of some unpriced ones. Two connections load at once (this machine has
 * two cores): `db` writes the license rows and then helps with the compute rows.
 */
async function generateLedger(db: Client, databaseUrl: string, organizationId: string, poolId: string): Promise<void> {
  await timed(
    `generate ${WORK_UNITS.toLocaleString('en-US')} work units and ${COMPUTE_ROWS.toLocaleString('en-US')}+ compute rows, a license row per draw`,
    async () => {
      await generateWorkUnits(db, organizationId);
      await db.query('ANALYZE gen');
      const other = new Client({ connectionString: databaseUrl });
      await other.connect();
      const chunks = Array.from({ length: Math.ceil(DAYS / LEDGER_CHUNK_DAYS) }, (_, i) => i * LEDGER_CHUNK_DAYS);
      const computeQueue = [...chunks];
      const computeWorker = async (client: Client) => {
        for (let first = computeQueue.shift(); first !== undefined; first = computeQueue.shift()) await insertComputeRows(client, organizationId, first);
      };
      try {
        await Promise.all([
          (async () => {
            for (const first of chunks) await insertLicenseRows(db, { organizationId, poolId }, first);
            await computeWorker(db);
          })(),
          computeWorker(other),
        ]);
      } finally {
        await other.end();
      }
      // A price for the local model, back-dated to the first half of the window: its unpriced rows there get CORRECTIONs.
      await db.query(
        `INSERT INTO ledger_entries (id, organization_id, event_key, kind, meter, work_unit_id, principal_id, occurred_at,
                                   input_price_per_million, cached_input_price_per_million, output_price_per_million, cost, currency, cost_source, provider, model, corrects_entry_id)
       SELECT nextval('ledger_entries_id_seq'), $1::uuid, 'correction:' || e.id, 'CORRECTION', 'COMPUTE', e.work_unit_id, e.principal_id, e.occurred_at,
              0.6, 0.6, 0.6, round((e.input_tokens + e.output_tokens) * 0.6 / 1e6, 9), e.currency, 'PRICE_TABLE', e.provider, e.model, e.id
       FROM ledger_entries e
       WHERE e.organization_id = $1 AND e.cost_source = 'UNPRICED' AND e.provider = 'local' AND e.model = 'llama-70b' AND e.occurred_at < ${BASE_DAY} + ${DAYS / 2} * interval '1 day'
       ORDER BY e.occurred_at`,
        [organizationId],
      );
      await db.query('DROP TABLE bench_work_units');
    },
  );
  const counts = (
    await db.query(
      `SELECT (SELECT count(*) FROM ledger_entries)::int AS ledger, (SELECT count(*) FROM ledger_entries WHERE kind = 'CORRECTION')::int AS corrections,
            (SELECT count(*) FROM ledger_entries WHERE work_unit_id IS NULL)::int AS no_unit, (SELECT count(*) FROM ledger_daily_usage)::int AS rollup,
            (SELECT count(*) FROM work_unit_outcomes)::int AS outcomes`,
    )
  ).rows[0];
  const fmt = (n: number) => n.toLocaleString('en-US');
  console.log(
    `ledger: ${fmt(counts.ledger)} rows (${fmt(counts.corrections)} corrections, ${fmt(counts.no_unit)} on no work unit), ${fmt(counts.rollup)} daily usage rows, ${fmt(counts.outcomes)} outcome records`,
  );
  // As autovacuum would after such a load (it also sets the visibility map and hint bits).
  await timed('vacuum analyze', () => db.query('VACUUM ANALYZE'));
}

const REPORTS: { name: string; query: string; extra?: Record<string, unknown>; target: number }[] = [
  {
    name: 'shelfwareReport',
    target: 1,
    query: `query($p: ID!, $from: DateTime!, $to: DateTime!) { shelfwareReport(poolId: $p, from: $from, to: $to) { peakInUse p95InUse averageInUse utilization unusedCreditHours denials falseDenials suggestedCap estimatedSavings apps { app { key } leases creditHours peakCredits distinctPrincipals denials idleCreditHours } lapsedPrincipals { id } } }`,
  },
  {
    name: 'poolUsage (HOUR)',
    target: 1,
    extra: { b: 'HOUR' },
    query: `query($p: ID!, $from: DateTime!, $to: DateTime!, $b: Bucket!) { poolUsage(poolId: $p, from: $from, to: $to, bucket: $b) { start cap peakInUse averageInUse denials falseDenials } }`,
  },
  {
    name: 'poolUsage (DAY)',
    target: 1,
    extra: { b: 'DAY' },
    query: `query($p: ID!, $from: DateTime!, $to: DateTime!, $b: Bucket!) { poolUsage(poolId: $p, from: $from, to: $to, bucket: $b) { start cap peakInUse averageInUse denials falseDenials } }`,
  },
  {
    name: 'usageHistogram',
    target: 1,
    query: `query($p: ID!, $from: DateTime!, $to: DateTime!) { usageHistogram(poolId: $p, from: $from, to: $to) { credits shareOfTime } }`,
  },
  {
    name: 'simulateCap',
    target: 10,
    extra: { cap: 600 },
    query: `query($p: ID!, $from: DateTime!, $to: DateTime!, $cap: Int!) { simulateCap(poolId: $p, cap: $cap, from: $from, to: $to) { requests denied delayed deniedCreditHours longestWaitSeconds } }`,
  },
];

const OUTCOME_REPORTS: { name: string; query: string; daysBeforeNow?: number }[] = [
  {
    name: 'burnReport',
    query: `query($from: DateTime!, $to: DateTime!) { burnReport(from: $from, to: $to) { goingConcernShare outcomeLinkedShare maturity slices { orgUnitKind computeTokens computeCost licenseCreditHours licenseCost workUnits acceptedWorkUnits } byTeam { key totalCost workUnits acceptedWorkUnits } byProcess { key computeCost licenseCost totalCost workUnits acceptedWorkUnits } } }`,
  },
  {
    name: 'attributionCoverage',
    query: `query($from: DateTime!, $to: DateTime!) { attributionCoverage(from: $from, to: $to) { totalCost attributedCost coverage } }`,
  },
  {
    name: 'costPerOutcome',
    query: `query($from: DateTime!, $to: DateTime!) { costPerOutcome(from: $from, to: $to) { process workUnits acceptedWorkUnits totalCost costPerAcceptedOutcome } }`,
  },
  // Outcomes recorded after `to` are read from the outcome history instead of the work unit.
  {
    name: 'burnReport (ending 3 days ago)',
    daysBeforeNow: 3,
    query: `query($from: DateTime!, $to: DateTime!) { burnReport(from: $from, to: $to) { goingConcernShare outcomeLinkedShare maturity slices { orgUnitKind computeCost licenseCost workUnits acceptedWorkUnits } byTeam { key totalCost } byProcess { key totalCost } } }`,
  },
];

/** Cold (the first call) and warm (the median of the next three) seconds of a call. */
async function coldAndWarm(call: () => Promise<void>): Promise<{ cold: number; warm: number }> {
  const times: number[] = [];
  for (let i = 0; i < 4; i++) {
    const started = performance.now();
    await call();
    times.push((performance.now() - started) / 1000);
  }
  return { cold: times[0], warm: times.slice(1).sort((a, b) => a - b)[1] };
}

// The client of an export, run in its own process as a real one would be (in this process
// it would take the API's event loop): reads the body as it streams and counts its lines.
const EXPORT_CLIENT = `
  const started = performance.now();
  fetch(process.argv[1], { headers: { authorization: 'Bearer ' + process.argv[2] } }).then(async (res) => {
    if (res.status !== 200) throw new Error(process.argv[1] + ' answered ' + res.status + ': ' + (await res.text()));
    const firstByte = (performance.now() - started) / 1000;
    let lines = 0, bytes = 0;
    for await (const chunk of res.body) {
      bytes += chunk.byteLength;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    }
    console.log(JSON.stringify({ rows: lines - 1, bytes, firstByte, seconds: (performance.now() - started) / 1000 }));
  }).catch((err) => { console.error(err); process.exit(1); });`;

/** Streams an export over real HTTP into a separate client process; its rows, bytes and times. */
async function streamExport(url: string, key: string): Promise<{ rows: number; bytes: number; seconds: number; firstByte: number }> {
  const { stdout } = await execFileAsync(process.execPath, ['-e', EXPORT_CLIENT, url, key], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as { rows: number; bytes: number; seconds: number; firstByte: number };
}

async function main(): Promise<void> {
  const databaseUrl = await freshDatabase('tokenpool_bench_reports');
  const env = {
    DATABASE_URL: databaseUrl,
    DATABASE_CREATE: 'false',
    MIGRATIONS_RUN: 'false',
    REDIS_PREFIX: `tpbench-reports:${process.pid}`,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_KEY: '1000000',
    METRICS_PORT: '0',
  };
  Object.assign(process.env, env);
  execFileSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'migrate'], { env: process.env, stdio: 'ignore' });
  const created = createBenchOrganization(process.env);
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  const poolId = await generateHistory(db, created.organizationId);
  await generateLedger(db, databaseUrl, created.organizationId, poolId);
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
    for (const report of OUTCOME_REPORTS) {
      const end = new Date(to.getTime() - (report.daysBeforeNow ?? 0) * 86_400_000);
      const variables = { from: new Date(end.getTime() - DAYS * 86_400_000).toISOString(), to: end.toISOString() };
      const { cold, warm } = await coldAndWarm(async () => {
        const res = await fastify.inject({
          method: 'POST',
          url: '/graphql',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${created.adminKey}` },
          payload: JSON.stringify({ query: report.query, variables }),
        });
        const body = res.json() as { errors?: unknown };
        if (body.errors) throw new Error(`${report.name}: ${JSON.stringify(body.errors)}`);
      });
      rows.push(`${report.name} | ${cold.toFixed(3)} s | ${warm.toFixed(3)} s | < 1 s`);
    }
    console.log(rows.join('\n'));

    // Exports through real HTTP (Fastify's inject would buffer the whole body), read by a client process.
    await app.listen(0, '127.0.0.1');
    const base = await app.getUrl();
    const exportsTable = [
      'export (90 days, HTTP on 127.0.0.1) | rows | MB | first byte | seconds | rows/s | target',
      '--- | ---: | ---: | ---: | ---: | ---: | ---:',
    ];
    for (const name of ['ledger.csv', 'focus.csv']) {
      const result = await streamExport(`${base}/exports/${name}?from=${from.toISOString()}&to=${to.toISOString()}`, created.adminKey);
      exportsTable.push(
        `GET /exports/${name} | ${result.rows.toLocaleString('en-US')} | ${(result.bytes / 1e6).toFixed(0)} | ${result.firstByte.toFixed(2)} s | ${result.seconds.toFixed(1)} s | ${Math.round(result.rows / result.seconds).toLocaleString('en-US')} | ≥ 50,000`,
      );
    }
    console.log(exportsTable.join('\n'));

    // The sealed ledger over all of it: the first seal covers every row (as after an upgrade),
    // then verifyLedger recomputes it, and the auditor's export streams it.
    const gql = async <T>(query: string): Promise<T> => {
      const res = await fastify.inject({
        method: 'POST',
        url: '/graphql',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${created.adminKey}` },
        payload: JSON.stringify({ query }),
      });
      const body = res.json() as { data?: T; errors?: unknown };
      if (!body.data) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    const sealed = await timedResult('sealLedger over the whole ledger (one seal)', () =>
      gql<{ sealLedger: { rows: number } }>('mutation { sealLedger { rows } }'),
    );
    const verified = await timedResult('verifyLedger (recomputes it from PostgreSQL)', () =>
      gql<{ verifyLedger: { ok: boolean; rowsChecked: number } }>('{ verifyLedger { ok rowsChecked } }'),
    );
    const audit = await streamExport(`${base}/exports/ledger-audit.jsonl`, created.adminKey);
    console.log(
      [
        'sealed ledger | rows | seconds | rows/s',
        '--- | ---: | ---: | ---:',
        `sealLedger (one seal over every row) | ${sealed.result.sealLedger.rows.toLocaleString('en-US')} | ${sealed.seconds.toFixed(1)} s | ${Math.round(sealed.result.sealLedger.rows / sealed.seconds).toLocaleString('en-US')}`,
        `verifyLedger (ok: ${verified.result.verifyLedger.ok}) | ${verified.result.verifyLedger.rowsChecked.toLocaleString('en-US')} | ${verified.seconds.toFixed(1)} s | ${Math.round(verified.result.verifyLedger.rowsChecked / verified.seconds).toLocaleString('en-US')}`,
        `GET /exports/ledger-audit.jsonl (${(audit.bytes / 1e6).toFixed(0)} MB, first byte ${audit.firstByte.toFixed(2)} s) | ${(audit.rows + 1).toLocaleString('en-US')} lines | ${audit.seconds.toFixed(1)} s | ${Math.round((audit.rows + 1) / audit.seconds).toLocaleString('en-US')}`,
      ].join('\n'),
    );
  } finally {
    await app.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
