import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { requireWindow } from '../common/validation/validate';
import { APP_CONFIG, AppConfig } from '../config/env';
import type { OrgUnitKind } from '../principals/principal.entity';
import { AttributionCoverage } from './attribution-coverage.model';
import { burnShares, byCostThenKey, costPerAccepted, share } from './burn-math';
import { BurnGroup, BurnReport, BurnSlice } from './burn-report.model';
import { OutcomeCost } from './outcome-cost.model';
import { UNIT_USAGE_CTE } from './outcome-usage.sql';
import { rollupSpan } from './rollup-span';

/** Same bound as the pool reports: a year and a bit, so year-on-year fits. */
export const MAX_OUTCOME_REPORT_DAYS = 400;

export interface OutcomeReportQuery {
  organizationId: string;
  from: Date;
  to: Date;
}

interface GroupRow {
  dimension: 'kind' | 'team' | 'process';
  key: string;
  compute_tokens: number;
  compute_cost: number;
  credit_seconds: number;
  license_cost: number;
  work_units: number;
  accepted: number;
  outcome_linked_cost: number;
}

const SIDES: OrgUnitKind[] = ['CHANGE', 'GOING_CONCERN'];

/**
 * What the spend produced: where it burned (burnReport), how much of it is attributed
 * (attributionCoverage), and its cost per accepted outcome (costPerOutcome). Each report is
 * one aggregate query over UNIT_USAGE_CTE, which holds every definition they share and reads
 * the daily ledger rollup for whole days, raw rows for the partial days at the edges. Not
 * clipped to now, unlike the pool reports: a ledger has nothing after now to mis-measure,
 * and `to` in the future simply reads today's outcomes.
 */
@Injectable()
export class OutcomeReportsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async burnReport(query: OutcomeReportQuery): Promise<BurnReport> {
    // Work units are first summed per class (kind, team, process, accepted, valued), a few
    // hundred rows, so the three grouping sets add up those instead of every work unit.
    // MATERIALIZED keeps that first step a hash aggregate of its own: merged with the
    // grouping sets, the planner may sort every work unit instead.
    const rows = await this.run<GroupRow>(
      query,
      `, classes AS MATERIALIZED (
         SELECT kind, team, process, outcome = 'ACCEPTED' AS accepted, value_amount IS NOT NULL AS valued,
                sum(compute_tokens) AS compute_tokens, sum(compute_cost) AS compute_cost, sum(credit_seconds) AS credit_seconds,
                sum(license_cost) AS license_cost, sum(total_cost) AS total_cost, count(work_unit_id) AS work_units
         FROM units
         GROUP BY 1, 2, 3, 4, 5
       )
       SELECT CASE WHEN grouping(kind) = 0 THEN 'kind' WHEN grouping(team) = 0 THEN 'team' ELSE 'process' END AS dimension,
              coalesce(kind, team, process) AS key,
              sum(compute_tokens)::float8 AS compute_tokens,
              sum(compute_cost)::float8 AS compute_cost,
              sum(credit_seconds)::float8 AS credit_seconds,
              sum(license_cost)::float8 AS license_cost,
              sum(work_units)::int AS work_units,
              coalesce(sum(work_units) FILTER (WHERE accepted), 0)::int AS accepted,
              coalesce(sum(total_cost) FILTER (WHERE accepted AND valued), 0)::float8 AS outcome_linked_cost
       FROM classes
       GROUP BY GROUPING SETS ((kind), (team), (process))`,
    );
    const kinds = new Map(rows.filter((r) => r.dimension === 'kind').map((r) => [r.key, r]));
    const slices = SIDES.map((side) => sliceOf(side, kinds.get(side)));
    const goingConcern = kinds.get('GOING_CONCERN');
    const shares = burnShares(
      {
        total: slices.reduce((sum, s) => sum + s.computeCost + s.licenseCost, 0),
        goingConcern: goingConcern ? goingConcern.compute_cost + goingConcern.license_cost : 0,
        outcomeLinked: goingConcern?.outcome_linked_cost ?? 0,
      },
      this.config.burnThresholds,
    );
    return {
      from: query.from,
      to: query.to,
      slices,
      byTeam: groupsOf(rows, 'team'),
      byProcess: groupsOf(rows, 'process'),
      ...shares,
    };
  }

  async attributionCoverage(query: OutcomeReportQuery): Promise<AttributionCoverage> {
    const [row] = await this.run<{ total: number; attributed: number }>(
      query,
      `SELECT coalesce(sum(total_cost), 0)::float8 AS total,
              coalesce(sum(total_cost) FILTER (WHERE work_unit_id IS NOT NULL AND owner IS NOT NULL AND outcome <> 'PENDING'), 0)::float8 AS attributed
       FROM units`,
    );
    return { totalCost: row.total, attributedCost: row.attributed, coverage: share(row.attributed, row.total) };
  }

  async costPerOutcome(query: OutcomeReportQuery): Promise<OutcomeCost[]> {
    const rows = await this.run<{ process: string; work_units: number; accepted: number; total_cost: number }>(
      query,
      `SELECT process,
              count(work_unit_id)::int AS work_units,
              count(work_unit_id) FILTER (WHERE outcome = 'ACCEPTED')::int AS accepted,
              sum(total_cost)::float8 AS total_cost
       FROM units
       GROUP BY process`,
    );
    return rows
      .map((r) => ({ key: r.process, totalCost: r.total_cost, row: r }))
      .sort(byCostThenKey)
      .map(({ row }) => ({
        process: row.process,
        workUnits: row.work_units,
        acceptedWorkUnits: row.accepted,
        totalCost: row.total_cost,
        costPerAcceptedOutcome: costPerAccepted(row.total_cost, row.accepted),
      }));
  }

  /** Runs `WITH UNIT_USAGE_CTE <rest>`: `rest` is the report's SELECT, after more CTEs if it starts with a comma. */
  private async run<T>(query: OutcomeReportQuery, rest: string): Promise<T[]> {
    requireWindow(query.from, query.to, { maxDays: MAX_OUTCOME_REPORT_DAYS });
    const span = rollupSpan(query.from, query.to);
    return this.dataSource.transaction(async (manager) => {
      // The planner's estimate of these queries is far above what they cost, so it would
      // JIT-compile them for longer than they run; and their hash tables (a window's work
      // units) want more than the default 4 MB.
      await manager.query(`SET LOCAL jit = off; SET LOCAL work_mem = '64MB'`);
      return manager.query(`WITH ${UNIT_USAGE_CTE} ${rest}`, [query.organizationId, query.from, query.to, span.start, span.end]);
    });
  }
}

function sliceOf(orgUnitKind: OrgUnitKind, row: GroupRow | undefined): BurnSlice {
  return {
    orgUnitKind,
    computeTokens: row?.compute_tokens ?? 0,
    computeCost: row?.compute_cost ?? 0,
    licenseCreditHours: (row?.credit_seconds ?? 0) / 3600,
    licenseCost: row?.license_cost ?? 0,
    workUnits: row?.work_units ?? 0,
    acceptedWorkUnits: row?.accepted ?? 0,
  };
}

function groupsOf(rows: GroupRow[], dimension: 'team' | 'process'): BurnGroup[] {
  return rows
    .filter((r) => r.dimension === dimension)
    .map((r) => ({
      key: r.key,
      computeCost: r.compute_cost,
      licenseCost: r.license_cost,
      totalCost: r.compute_cost + r.license_cost,
      workUnits: r.work_units,
      acceptedWorkUnits: r.accepted,
    }))
    .sort(byCostThenKey);
}
