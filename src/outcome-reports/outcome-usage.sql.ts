/**
 * The window's ledger rows summed per work unit (and, for rows on no work unit, per
 * principal), joined to the work unit and to its outcome as of `to`. Parameters:
 * $1 organization, $2 from, $3 to. The three reports aggregate this one relation, so they
 * agree on every definition:
 * - a row counts when occurred_at is in [from, to); a LICENSE row is dated by its draw's end;
 * - quantities come from COMPUTE and LICENSE rows only, cost from every row of the meter:
 *   a CORRECTION adds cost and carries zero quantities;
 * - an UNPRICED row (cost null) adds its quantities and no cost;
 * - kind is the work unit's org_unit_kind, else the principal's (a slice has no "none"),
 *   else CHANGE: spend not shown to be daily operations does not raise the maturity;
 * - team and process are the work unit's ('' when it has none or there is no work unit);
 * - the outcome is the last one recorded at or before `to` (work_unit_outcomes_as_of);
 *   no record by then reads as PENDING.
 * The ledger scan is a range of ix_ledger_entries_organization_occurred (and partition
 * pruning on occurred_at); the per-unit sums keep the joins to one row per work unit.
 */
export const UNIT_USAGE_CTE = `
  usage AS (
    SELECT e.work_unit_id,
           CASE WHEN e.work_unit_id IS NULL THEN e.principal_id END AS principal_id,
           coalesce(sum(e.input_tokens + e.output_tokens) FILTER (WHERE e.kind = 'COMPUTE'), 0) AS compute_tokens,
           coalesce(sum(e.cost) FILTER (WHERE e.meter = 'COMPUTE'), 0) AS compute_cost,
           coalesce(sum(e.credit_seconds) FILTER (WHERE e.kind = 'LICENSE'), 0) AS credit_seconds,
           coalesce(sum(e.cost) FILTER (WHERE e.meter = 'LICENSE'), 0) AS license_cost
    FROM ledger_entries e
    WHERE e.organization_id = $1 AND e.occurred_at >= $2 AND e.occurred_at < $3
    GROUP BY 1, 2
  ),
  units AS (
    SELECT u.work_unit_id, u.compute_tokens, u.compute_cost, u.credit_seconds, u.license_cost,
           u.compute_cost + u.license_cost AS total_cost,
           coalesce(w.org_unit_kind, p.org_unit_kind, 'CHANGE') AS kind,
           coalesce(w.team, '') AS team,
           coalesce(w.process, '') AS process,
           w.owner,
           coalesce(o.outcome, 'PENDING') AS outcome,
           o.value_amount
    FROM usage u
    LEFT JOIN work_units w ON w.id = u.work_unit_id AND w.organization_id = $1
    LEFT JOIN principals p ON p.id = u.principal_id AND p.organization_id = $1
    LEFT JOIN work_unit_outcomes_as_of($1, $3) o ON o.work_unit_id = u.work_unit_id
  )`;
