// The whole UTC days inside the window, [FIRST_DAY, END_DAY) (see rollupSpan).
const FIRST_DAY = `($4::timestamptz AT TIME ZONE 'UTC')::date`;
const END_DAY = `($5::timestamptz AT TIME ZONE 'UTC')::date`;

// Raw ledger rows between two instants, as the rollups count them.
const RAW_ROWS = (from: string, to: string) => `
    SELECT e.work_unit_id, CASE WHEN e.work_unit_id IS NULL THEN e.principal_id END,
           CASE WHEN e.kind = 'COMPUTE' THEN e.input_tokens + e.output_tokens ELSE 0 END,
           CASE WHEN e.meter = 'COMPUTE' THEN e.cost END,
           CASE WHEN e.kind = 'LICENSE' THEN e.credit_seconds ELSE 0 END,
           CASE WHEN e.meter = 'LICENSE' THEN e.cost END
    FROM ledger_entries e
    WHERE e.organization_id = $1 AND e.occurred_at >= ${from} AND e.occurred_at < ${to}`;

/**
 * The window's ledger usage summed per work unit (and, for rows on no work unit, per
 * principal), joined to the work unit and to its outcome as of `to`. Parameters:
 * $1 organization, $2 from, $3 to, $4 and $5 the UTC midnights that bound the whole days
 * inside the window (rollupSpan). The three reports aggregate this one relation, so they
 * agree on every definition:
 * - a row counts when occurred_at is in [from, to); a LICENSE row is dated by its draw's end;
 * - quantities come from COMPUTE and LICENSE rows only, cost from every row of the meter:
 *   a CORRECTION adds cost and carries zero quantities;
 * - an UNPRICED row (cost null) adds its quantities and no cost;
 * - kind is the work unit's org_unit_kind, else the principal's (a slice has no "none"),
 *   else CHANGE: spend not shown to be daily operations does not raise the maturity;
 * - team and process are the work unit's ('' when it has none or there is no work unit);
 * - the outcome is the last one recorded at or before `to`; no record by then reads as
 *   PENDING.
 *
 * Where the sums come from (each source applies the definitions above to every ledger row,
 * in the same statement as its insert, so the result is the same as summing raw rows):
 * - a work unit whose first and last day (work_unit_totals) both lie in the whole days: its
 *   all-time totals, one row. work_unit_totals sums quantities by meter, which is the same
 *   as by kind: a CORRECTION carries none (ck_ledger_entries_correction_quantities);
 * - a work unit with days both inside and outside the whole days (it straddles the window's
 *   edges), and the principals' rows on no work unit: their ledger_daily_usage rows of the
 *   whole days;
 * - the partial days at the edges, [from, $4) and [$5, to): raw ledger rows.
 * The first kind has no row at the edges, so nothing is counted twice.
 * The outcome is the work unit's current one (OutcomesService writes it and its history
 * row in one transaction, stamped alike, so it is the last record), unless the work unit
 * has a record after `to` (`late`: a range of ix_work_unit_outcomes_organization_recorded,
 * short for a recent `to`): then its last record at or before `to`, through
 * ix_work_unit_outcomes_unit_recorded. Joins only, no per-row subqueries, so the planner
 * may hash and parallelize every step.
 */
export const UNIT_USAGE_CTE = `
  inside AS (
    SELECT t.work_unit_id, NULL::uuid AS principal_id, t.compute_input_tokens + t.compute_output_tokens AS compute_tokens,
           t.compute_cost, t.license_credit_seconds AS credit_seconds, t.license_cost
    FROM work_unit_totals t
    WHERE t.organization_id = $1 AND t.last_day >= ${FIRST_DAY} AND t.last_day < ${END_DAY} AND t.first_day >= ${FIRST_DAY}
  ),
  partial_rows AS (
    SELECT d.work_unit_id, d.principal_id, d.compute_tokens, d.compute_cost, d.license_credit_seconds, d.license_cost
    FROM work_unit_totals t
    JOIN ledger_daily_usage d ON d.organization_id = $1 AND d.work_unit_id = t.work_unit_id AND d.principal_id IS NULL
                             AND d.day >= ${FIRST_DAY} AND d.day < ${END_DAY}
    WHERE t.organization_id = $1 AND t.last_day >= ${FIRST_DAY} AND t.first_day < ${END_DAY}
      AND (t.first_day < ${FIRST_DAY} OR t.last_day >= ${END_DAY})
    UNION ALL
    SELECT d.work_unit_id, d.principal_id, d.compute_tokens, d.compute_cost, d.license_credit_seconds, d.license_cost
    FROM ledger_daily_usage d
    WHERE d.organization_id = $1 AND d.work_unit_id IS NULL AND d.day >= ${FIRST_DAY} AND d.day < ${END_DAY}
    UNION ALL ${RAW_ROWS('$2', '$4')}
    UNION ALL ${RAW_ROWS('$5', '$3')}
  ),
  usage AS (
    SELECT * FROM inside
    UNION ALL
    SELECT work_unit_id, principal_id, sum(compute_tokens), coalesce(sum(compute_cost), 0), sum(license_credit_seconds), coalesce(sum(license_cost), 0)
    FROM partial_rows
    GROUP BY 1, 2
  ),
  late AS (
    SELECT l.work_unit_id, h.outcome, h.value_amount
    FROM (SELECT DISTINCT r.work_unit_id FROM work_unit_outcomes r WHERE r.organization_id = $1 AND r.recorded_at > $3) l
    LEFT JOIN LATERAL (
      SELECT o.outcome, o.value_amount
      FROM work_unit_outcomes o
      WHERE o.organization_id = $1 AND o.work_unit_id = l.work_unit_id AND o.recorded_at <= $3
      ORDER BY o.recorded_at DESC, o.id DESC
      LIMIT 1
    ) h ON true
  ),
  units AS (
    SELECT u.work_unit_id, u.compute_tokens, u.compute_cost, u.credit_seconds, u.license_cost,
           u.compute_cost + u.license_cost AS total_cost,
           coalesce(w.org_unit_kind, p.org_unit_kind, 'CHANGE') AS kind,
           coalesce(w.team, '') AS team,
           coalesce(w.process, '') AS process,
           w.owner,
           CASE WHEN l.work_unit_id IS NOT NULL THEN coalesce(l.outcome, 'PENDING')
                WHEN w.outcome_recorded_at <= $3 THEN w.outcome
                ELSE 'PENDING' END AS outcome,
           CASE WHEN l.work_unit_id IS NOT NULL THEN l.value_amount
                WHEN w.outcome_recorded_at <= $3 THEN w.value_amount END AS value_amount
    FROM usage u
    LEFT JOIN work_units w ON w.id = u.work_unit_id AND w.organization_id = $1
    LEFT JOIN principals p ON p.id = u.principal_id AND p.organization_id = $1
    LEFT JOIN late l ON l.work_unit_id = u.work_unit_id
  )`;
