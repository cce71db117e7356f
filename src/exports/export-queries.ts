import type { CsvKind } from './csv';

/**
 * The SQL behind the two CSV exports. Every value is formatted by PostgreSQL (timestamps as
 * ISO 8601 UTC, numerics without trailing zeros), so the stream only escapes text and
 * places values. The stream reads rows as arrays and checks their column names against
 * LEDGER_SQL_COLUMNS and FOCUS_SQL_COLUMNS. Parameters: $1 organization, $2 from, $3 to.
 * Joins repeat the organization, so a row can never pick up another tenant's names.
 */

const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * ledger.csv, column by column: the header name, the SQL expression, and whether it is
 * text (what a caller or an admin named) or verbatim (numbers, ids, times, checked codes).
 */
const LEDGER_FIELDS: readonly [string, string, CsvKind][] = [
  ['id', 'e.id', 'verbatim'],
  ['event_key', 'e.event_key', 'text'],
  ['occurred_at', iso('e.occurred_at'), 'verbatim'],
  ['recorded_at', iso('e.recorded_at'), 'verbatim'],
  ['started_at', iso('e.started_at'), 'verbatim'],
  ['kind', 'e.kind', 'verbatim'],
  ['meter', 'e.meter', 'verbatim'],
  ['work_unit_id', 'e.work_unit_id', 'verbatim'],
  ['work_unit_external_ref', 'w.external_ref', 'text'],
  ['principal_id', 'e.principal_id', 'verbatim'],
  ['principal_name', 'p.name', 'text'],
  ['pool_id', 'e.pool_id', 'verbatim'],
  ['pool_name', 'pl.name', 'text'],
  ['app_id', 'e.app_id', 'verbatim'],
  ['app_key', 'a.key', 'text'],
  ['app_name', 'a.name', 'text'],
  ['lease_id', 'e.lease_id', 'verbatim'],
  ['draw_id', 'e.draw_id', 'verbatim'],
  ['provider', 'e.provider', 'text'],
  ['model', 'e.model', 'text'],
  ['credit_seconds', 'trim_scale(e.credit_seconds)', 'verbatim'],
  ['idle_credit_seconds', 'trim_scale(e.idle_credit_seconds)', 'verbatim'],
  ['input_tokens', 'e.input_tokens', 'verbatim'],
  ['cached_input_tokens', 'e.cached_input_tokens', 'verbatim'],
  ['output_tokens', 'e.output_tokens', 'verbatim'],
  ['reasoning_tokens', 'e.reasoning_tokens', 'verbatim'],
  ['credit_hour_price', 'trim_scale(e.credit_hour_price)', 'verbatim'],
  ['input_price_per_million', 'trim_scale(e.input_price_per_million)', 'verbatim'],
  ['cached_input_price_per_million', 'trim_scale(e.cached_input_price_per_million)', 'verbatim'],
  ['output_price_per_million', 'trim_scale(e.output_price_per_million)', 'verbatim'],
  ['model_price_id', 'e.model_price_id', 'verbatim'],
  ['cost', 'trim_scale(e.cost)', 'verbatim'],
  ['currency', 'e.currency', 'text'],
  ['cost_source', 'e.cost_source', 'verbatim'],
  ['corrects_entry_id', 'e.corrects_entry_id', 'verbatim'],
];

/** The CSV header of ledger.csv. */
export const LEDGER_COLUMNS = LEDGER_FIELDS.map(([name]) => name);

// Consecutive verbatim fields leave PostgreSQL as one value, already joined by commas
// (null as empty): a row arrives as 17 strings instead of 35, and parsing and collecting
// those strings is most of what the stream spends per row.
const LEDGER_RUNS = LEDGER_FIELDS.reduce<{ names: string[]; exprs: string[]; kind: CsvKind }[]>((runs, [name, expr, kind]) => {
  const last = runs[runs.length - 1];
  if (kind === 'verbatim' && last?.kind === 'verbatim') {
    last.names.push(name);
    last.exprs.push(expr);
  } else {
    runs.push({ names: [name], exprs: [expr], kind });
  }
  return runs;
}, []);

/** The columns LEDGER_SQL returns (a joined run is named after its first field), and how each is written. */
export const LEDGER_SQL_COLUMNS = LEDGER_RUNS.map((run) => run.names[0]);
export const LEDGER_KINDS: CsvKind[] = LEDGER_RUNS.map((run) => run.kind);

const ledgerSelect = LEDGER_RUNS.map((run) =>
  run.exprs.length === 1
    ? `${run.exprs[0]} AS ${run.names[0]}`
    : `${run.exprs.map((e) => `coalesce((${e})::text, '')`).join(` || ',' || `)} AS ${run.names[0]}`,
).join(',\n         ');

export const LEDGER_SQL = `
  SELECT ${ledgerSelect}
  FROM ledger_entries e
  LEFT JOIN work_units w ON w.id = e.work_unit_id AND w.organization_id = e.organization_id
  LEFT JOIN principals p ON p.id = e.principal_id AND p.organization_id = e.organization_id
  LEFT JOIN pools pl ON pl.id = e.pool_id AND pl.organization_id = e.organization_id
  LEFT JOIN apps a ON a.id = e.app_id AND a.organization_id = e.organization_id
  WHERE e.organization_id = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3
  ORDER BY e.occurred_at, e.id`;

// One row per UTC day, work unit, meter and model (compute) or app (license). Grouping by
// meter rather than kind folds a CORRECTION into the group of the row it prices: it carries
// that row's meter, work unit, occurred_at, provider and model. The ledger's cost is what
// was charged (no discounts or commitments exist), so every cost column carries it.
//
// The query covers one UTC day (or the part of it inside the window): $2 and $3 bound the
// rows, $4 is the window's `to`, as of which outcomes are read. The stream runs it once per
// day, in order, so each grouping and sort holds a day's rows in memory instead of the
// whole window's on disk, and the first rows leave at once. It returns each group's values
// once (FOCUS_SQL_COLUMNS); focusRowWriter spreads them over FOCUS's columns. Work units are
// looked up once per day each (with their Tags), not once per row. The outcome as of `to`
// follows the rule of the outcome reports (UNIT_USAGE_CTE): the work unit's current one when
// recorded by then, else its last history record by then.
export const FOCUS_SQL = `
  WITH g AS (
    SELECT e.work_unit_id, e.meter, e.provider, e.model, e.pool_id, e.app_id,
           trim_scale(coalesce(sum(e.cost), 0)) AS cost,
           trim_scale(coalesce(sum(e.cost) FILTER (WHERE e.kind = 'CORRECTION'), 0)) AS correction_cost,
           trim_scale(round(sum(e.credit_seconds) / 3600, 9)) AS credit_hours,
           trim_scale(round(sum(e.idle_credit_seconds) / 3600, 9)) AS idle_credit_hours,
           sum(e.input_tokens) AS input_tokens, sum(e.cached_input_tokens) AS cached_input_tokens,
           sum(e.output_tokens) AS output_tokens, sum(e.reasoning_tokens) AS reasoning_tokens,
           sum(e.input_tokens) + sum(e.output_tokens) AS tokens, count(*) AS entries
    FROM ledger_entries e
    WHERE e.organization_id = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3
    GROUP BY 1, 2, 3, 4, 5, 6
  ), u AS (
    SELECT w.id, w.external_ref,
           jsonb_strip_nulls(jsonb_build_object(
             'tokenpool/work_unit', w.external_ref, 'tokenpool/team', w.team, 'tokenpool/process', w.process,
             'tokenpool/org_unit_kind', w.org_unit_kind,
             'tokenpool/outcome', CASE WHEN w.outcome_recorded_at <= $4 THEN w.outcome
                                       WHEN w.outcome_recorded_at > $4 THEN coalesce((
                                         SELECT r.outcome FROM work_unit_outcomes r
                                         WHERE r.organization_id = $1 AND r.work_unit_id = w.id AND r.recorded_at <= $4
                                         ORDER BY r.recorded_at DESC, r.id DESC LIMIT 1), 'PENDING')
                                       ELSE 'PENDING' END
           ))::text AS tags
    FROM work_units w
    WHERE w.organization_id = $1 AND w.id IN (SELECT g.work_unit_id FROM g)
  )
  SELECT g.meter, g.work_unit_id, u.external_ref, u.tags, g.pool_id, pl.name AS pool_name, g.app_id, a.key AS app_key, a.name AS app_name,
         g.provider, g.model, g.cost, g.correction_cost, g.credit_hours, g.idle_credit_hours,
         g.input_tokens, g.cached_input_tokens, g.output_tokens, g.reasoning_tokens, g.tokens, g.entries
  FROM g
  LEFT JOIN u ON u.id = g.work_unit_id
  LEFT JOIN pools pl ON pl.id = g.pool_id AND pl.organization_id = $1
  LEFT JOIN apps a ON a.id = g.app_id AND a.organization_id = $1
  ORDER BY u.external_ref NULLS FIRST, g.work_unit_id, g.meter, g.provider, g.model, a.key, g.app_id`;
