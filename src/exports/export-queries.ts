import type { CsvKind } from './csv';

/**
 * The SQL behind the two CSV exports. Every value is formatted by PostgreSQL (timestamps as
 * ISO 8601 UTC, numerics without trailing zeros), so the stream only escapes text; each
 * SELECT names its columns exactly as the CSV header does, in the same order (the stream
 * reads rows as arrays and checks the names once). Parameters: $1 organization, $2 from,
 * $3 to. Joins repeat the organization, so a row can never pick up another tenant's names.
 */

const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const focusTime = (timestamp: string) => `to_char(${timestamp}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;

export const LEDGER_COLUMNS = [
  'id', 'event_key', 'occurred_at', 'recorded_at', 'started_at', 'kind', 'meter',
  'work_unit_id', 'work_unit_external_ref', 'principal_id', 'principal_name',
  'pool_id', 'pool_name', 'app_id', 'app_key', 'app_name', 'lease_id', 'draw_id', 'provider', 'model',
  'credit_seconds', 'idle_credit_seconds', 'input_tokens', 'cached_input_tokens', 'output_tokens', 'reasoning_tokens',
  'credit_hour_price', 'input_price_per_million', 'cached_input_price_per_million', 'output_price_per_million', 'model_price_id',
  'cost', 'currency', 'cost_source', 'corrects_entry_id',
] as const;

/** Columns written as numbers (never neutralised as formulas); every other one is text. */
const LEDGER_NUMBERS = new Set<string>([
  'id', 'credit_seconds', 'idle_credit_seconds', 'input_tokens', 'cached_input_tokens', 'output_tokens', 'reasoning_tokens',
  'credit_hour_price', 'input_price_per_million', 'cached_input_price_per_million', 'output_price_per_million', 'model_price_id',
  'cost', 'corrects_entry_id',
]);
export const LEDGER_KINDS: CsvKind[] = LEDGER_COLUMNS.map((c) => (LEDGER_NUMBERS.has(c) ? 'number' : 'text'));

export const LEDGER_SQL = `
  SELECT e.id, e.event_key, ${iso('e.occurred_at')} AS occurred_at, ${iso('e.recorded_at')} AS recorded_at, ${iso('e.started_at')} AS started_at,
         e.kind, e.meter, e.work_unit_id, w.external_ref AS work_unit_external_ref, e.principal_id, p.name AS principal_name,
         e.pool_id, pl.name AS pool_name, e.app_id, a.key AS app_key, a.name AS app_name, e.lease_id, e.draw_id, e.provider, e.model,
         trim_scale(e.credit_seconds) AS credit_seconds, trim_scale(e.idle_credit_seconds) AS idle_credit_seconds,
         e.input_tokens, e.cached_input_tokens, e.output_tokens, e.reasoning_tokens,
         trim_scale(e.credit_hour_price) AS credit_hour_price, trim_scale(e.input_price_per_million) AS input_price_per_million,
         trim_scale(e.cached_input_price_per_million) AS cached_input_price_per_million,
         trim_scale(e.output_price_per_million) AS output_price_per_million, e.model_price_id,
         trim_scale(e.cost) AS cost, e.currency, e.cost_source, e.corrects_entry_id
  FROM ledger_entries e
  LEFT JOIN work_units w ON w.id = e.work_unit_id AND w.organization_id = e.organization_id
  LEFT JOIN principals p ON p.id = e.principal_id AND p.organization_id = e.organization_id
  LEFT JOIN pools pl ON pl.id = e.pool_id AND pl.organization_id = e.organization_id
  LEFT JOIN apps a ON a.id = e.app_id AND a.organization_id = e.organization_id
  WHERE e.organization_id = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3
  ORDER BY e.occurred_at, e.id`;

/** FOCUS 1.2: the mandatory columns in the specification's order, then conditional ones, then x_ extensions. */
export const FOCUS_COLUMNS = [
  'BilledCost', 'BillingAccountId', 'BillingAccountName', 'BillingCurrency', 'BillingPeriodEnd', 'BillingPeriodStart',
  'ChargeCategory', 'ChargeClass', 'ChargeDescription', 'ChargePeriodEnd', 'ChargePeriodStart', 'ContractedCost',
  'EffectiveCost', 'InvoiceIssuerName', 'ListCost', 'PricingQuantity', 'PricingUnit', 'ProviderName', 'PublisherName',
  'ServiceCategory', 'ServiceName',
  'ConsumedQuantity', 'ConsumedUnit', 'SkuId', 'ResourceId', 'Tags',
  'x_Meter', 'x_WorkUnitId', 'x_WorkUnitExternalRef', 'x_PoolId', 'x_PoolName', 'x_AppId', 'x_AppKey', 'x_Provider', 'x_Model',
  'x_InputTokens', 'x_CachedInputTokens', 'x_OutputTokens', 'x_ReasoningTokens', 'x_CreditHours', 'x_IdleCreditHours',
  'x_CorrectionCost', 'x_LedgerEntries',
] as const;

const FOCUS_NUMBERS = new Set<string>([
  'BilledCost', 'ContractedCost', 'EffectiveCost', 'ListCost', 'PricingQuantity', 'ConsumedQuantity',
  'x_InputTokens', 'x_CachedInputTokens', 'x_OutputTokens', 'x_ReasoningTokens', 'x_CreditHours', 'x_IdleCreditHours',
  'x_CorrectionCost', 'x_LedgerEntries',
]);
export const FOCUS_KINDS: CsvKind[] = FOCUS_COLUMNS.map((c) => (FOCUS_NUMBERS.has(c) ? 'number' : 'text'));

// One row per UTC day, work unit, meter and model (compute) or app (license). Grouping by
// meter rather than kind folds a CORRECTION into the group of the row it prices: it carries
// that row's meter, work unit, occurred_at, provider and model. The ledger's cost is what
// was charged (no discounts or commitments exist), so every cost column carries it.
//
// The query covers one UTC day (or the part of it inside the window): $2 and $3 bound the
// rows, $4 is the window's `to`, as of which outcomes are read. The stream runs it once per
// day, in order, so each grouping and sort is a day's rows (in memory) instead of the whole
// window's twice over on disk, and the first rows leave at once. The outcome as of `to`
// follows the rule of the outcome reports (UNIT_USAGE_CTE): the work unit's current one when
// recorded by then, else its last history record by then.
export const FOCUS_SQL = `
  WITH g AS (
    SELECT date_trunc('day', $2::timestamptz AT TIME ZONE 'UTC') AS day, e.work_unit_id, e.meter, e.provider, e.model, e.pool_id, e.app_id,
           trim_scale(coalesce(sum(e.cost), 0)) AS cost,
           trim_scale(coalesce(sum(e.cost) FILTER (WHERE e.kind = 'CORRECTION'), 0)) AS correction_cost,
           trim_scale(round(sum(e.credit_seconds) / 3600, 9)) AS credit_hours,
           trim_scale(round(sum(e.idle_credit_seconds) / 3600, 9)) AS idle_credit_hours,
           sum(e.input_tokens) AS input_tokens, sum(e.cached_input_tokens) AS cached_input_tokens,
           sum(e.output_tokens) AS output_tokens, sum(e.reasoning_tokens) AS reasoning_tokens,
           sum(e.input_tokens) + sum(e.output_tokens) AS tokens, count(*) AS entries
    FROM ledger_entries e
    WHERE e.organization_id = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3
    GROUP BY 2, 3, 4, 5, 6, 7
  )
  SELECT g.cost AS "BilledCost", o.id AS "BillingAccountId", o.name AS "BillingAccountName", o.currency AS "BillingCurrency",
         ${focusTime("date_trunc('month', g.day) + interval '1 month'")} AS "BillingPeriodEnd", ${focusTime("date_trunc('month', g.day)")} AS "BillingPeriodStart",
         'Usage' AS "ChargeCategory", NULL AS "ChargeClass",
         CASE WHEN g.meter = 'COMPUTE' THEN format('%s %s tokens', g.provider, g.model)
              ELSE format('%s credit-hours in pool %s', coalesce(a.name, g.app_id::text), coalesce(pl.name, g.pool_id::text)) END
           || coalesce(' for work unit ' || w.external_ref, ' on no work unit') AS "ChargeDescription",
         ${focusTime("g.day + interval '1 day'")} AS "ChargePeriodEnd", ${focusTime('g.day')} AS "ChargePeriodStart",
         g.cost AS "ContractedCost", g.cost AS "EffectiveCost",
         CASE WHEN g.meter = 'COMPUTE' THEN g.provider ELSE o.name END AS "InvoiceIssuerName",
         g.cost AS "ListCost",
         CASE WHEN g.meter = 'COMPUTE' THEN g.tokens::text ELSE g.credit_hours::text END AS "PricingQuantity",
         CASE WHEN g.meter = 'COMPUTE' THEN 'Tokens' ELSE 'Credit-Hours' END AS "PricingUnit",
         CASE WHEN g.meter = 'COMPUTE' THEN g.provider ELSE 'tokenpool' END AS "ProviderName",
         CASE WHEN g.meter = 'COMPUTE' THEN g.provider ELSE coalesce(a.name, g.app_id::text) END AS "PublisherName",
         CASE WHEN g.meter = 'COMPUTE' THEN 'AI and Machine Learning' ELSE 'Other' END AS "ServiceCategory",
         CASE WHEN g.meter = 'COMPUTE' THEN g.model ELSE coalesce(a.name, g.app_id::text) END AS "ServiceName",
         CASE WHEN g.meter = 'COMPUTE' THEN g.tokens::text ELSE g.credit_hours::text END AS "ConsumedQuantity",
         CASE WHEN g.meter = 'COMPUTE' THEN 'Tokens' ELSE 'Credit-Hours' END AS "ConsumedUnit",
         CASE WHEN g.meter = 'COMPUTE' THEN g.provider || '/' || g.model ELSE a.key END AS "SkuId",
         g.work_unit_id AS "ResourceId",
         jsonb_strip_nulls(jsonb_build_object(
           'tokenpool/work_unit', w.external_ref, 'tokenpool/team', w.team, 'tokenpool/process', w.process,
           'tokenpool/org_unit_kind', w.org_unit_kind, 'tokenpool/outcome', CASE WHEN w.outcome_recorded_at <= $4 THEN w.outcome WHEN w.id IS NOT NULL THEN coalesce(h.outcome, 'PENDING') END
         ))::text AS "Tags",
         g.meter AS "x_Meter", g.work_unit_id AS "x_WorkUnitId", w.external_ref AS "x_WorkUnitExternalRef",
         g.pool_id AS "x_PoolId", pl.name AS "x_PoolName", g.app_id AS "x_AppId", a.key AS "x_AppKey", g.provider AS "x_Provider", g.model AS "x_Model",
         g.input_tokens AS "x_InputTokens", g.cached_input_tokens AS "x_CachedInputTokens", g.output_tokens AS "x_OutputTokens",
         g.reasoning_tokens AS "x_ReasoningTokens", g.credit_hours AS "x_CreditHours", g.idle_credit_hours AS "x_IdleCreditHours",
         g.correction_cost AS "x_CorrectionCost", g.entries AS "x_LedgerEntries"
  FROM g
  JOIN organizations o ON o.id = $1
  LEFT JOIN work_units w ON w.id = g.work_unit_id AND w.organization_id = $1
  LEFT JOIN LATERAL (
    SELECT r.outcome FROM work_unit_outcomes r
    WHERE w.outcome_recorded_at > $4 AND r.organization_id = $1 AND r.work_unit_id = w.id AND r.recorded_at <= $4
    ORDER BY r.recorded_at DESC, r.id DESC
    LIMIT 1
  ) h ON true
  LEFT JOIN pools pl ON pl.id = g.pool_id AND pl.organization_id = $1
  LEFT JOIN apps a ON a.id = g.app_id AND a.organization_id = $1
  ORDER BY w.external_ref NULLS FIRST, g.work_unit_id, g.meter, g.provider, g.model, a.key, g.app_id`;
