import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { RollupBucket } from './pool-usage-rollup.entity';
import { AppRollupFigures, PoolRef, PoolRollupFigures, sliceOfRows } from './rollup-rows';
import { UsageRollupCursorEntity } from './usage-rollup-cursor.entity';
import { UsageRollupsService } from './usage-rollups.service';
import { ceilTo, computeSlices, DAY_MS, DrawSpan, floorTo, HOUR_MS, UsageSlice } from './usage-slices';
import { planWindow } from './window-plan';

type RollupPoolRow = PoolRollupFigures & { start: number };

const ms = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;
import { UsageSourceService } from './usage-source.service';

/** Reads a pool's usage over a window as slices, from rollups where they exist and raw rows elsewhere. */
@Injectable()
export class UsageReaderService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly source: UsageSourceService,
    private readonly rollups: UsageRollupsService,
  ) {}

  /**
   * Slices covering [from, to) in order; hours with nothing in them may be missing. With
   * `useDays`, whole days come as one slice; with `perApp` false, rolled-up slices carry one
   * app entry ('*') with the pool's totals; with `levels` false, rolled-up slices carry peak
   * and credit-seconds but not the level histograms (a 90-day hourly series would parse megabytes of them).
   */
  async slices(pool: PoolRef, window: { from: number; to: number; now: number; useDays: boolean; perApp?: boolean; levels?: boolean }): Promise<UsageSlice[]> {
    const cursor = await this.rollups.cursor(pool.id);
    const parts = planWindow(
      window.from,
      window.to,
      cursor && { coveredFrom: cursor.coveredFrom.getTime(), coveredUntil: cursor.coveredUntil.getTime() },
      window.useDays,
    );
    let unrecorded: DrawSpan[] | null = null;
    const slices: UsageSlice[] = [];
    for (const part of parts) {
      if (part.kind !== 'raw') {
        slices.push(
          ...(await this.rollupSlices(pool, { bucket: part.kind, from: part.from, to: part.to, perApp: window.perApp ?? true, levels: window.levels ?? true })),
        );
        continue;
      }
      unrecorded ??= await this.source.unrecordedDraws({ organizationId: pool.organizationId, poolId: pool.id, now: window.now });
      slices.push(...(await this.rawSlices(pool, { ...part, now: window.now, cursor, unrecorded })));
    }
    return slices.sort((x, y) => x.start - y.start);
  }

  /**
   * Distinct (app, principal) pairs of the leases granted in [from, to): from the daily
   * principal rows for whole rolled-up days, from leases for the rest.
   */
  async principalPairs(pool: PoolRef, from: number, to: number): Promise<{ appId: string; principalId: string }[]> {
    const cursor = await this.rollups.cursor(pool.id);
    const d1 = ceilTo(from, DAY_MS);
    const d2 = cursor ? Math.min(floorTo(to, DAY_MS), floorTo(cursor.coveredUntil.getTime(), DAY_MS)) : d1;
    if (d1 >= d2) return this.source.principalPairs({ ...pool, poolId: pool.id, ranges: [[from, to]] });
    const raw = await this.source.principalPairs({
      ...pool,
      poolId: pool.id,
      ranges: [
        [from, d1],
        [d2, to],
      ].filter(([a, b]) => a < b) as [number, number][],
    });
    const rolled: { app_id: string; principal_id: string }[] = await this.dataSource.query(
      'SELECT DISTINCT app_id, principal_id FROM usage_principal_days WHERE pool_id = $1 AND day >= $2 AND day < $3',
      [pool.id, new Date(d1), new Date(d2)],
    );
    const seen = new Map<string, { appId: string; principalId: string }>();
    for (const p of [...raw, ...rolled.map((r) => ({ appId: r.app_id, principalId: r.principal_id }))]) seen.set(`${p.appId}|${p.principalId}`, p);
    return [...seen.values()];
  }

  private async rollupSlices(pool: PoolRef, q: { bucket: RollupBucket; from: number; to: number; perApp: boolean; levels: boolean }): Promise<UsageSlice[]> {
    // Raw queries: a 90-day hourly series reads thousands of rows, where entity hydration costs more than the query.
    const params = [pool.id, q.bucket, new Date(q.from), new Date(q.to)];
    const where = 'WHERE pool_id = $1 AND bucket = $2 AND start >= $3 AND start < $4';
    const sum = (column: string, as: string) => (q.perApp ? `${column} AS "${as}"` : `sum(${column})::float8 AS "${as}"`);
    const appFigures = `${ms('start')} AS start, ${q.perApp ? 'app_id' : `'*'`} AS "appId", ${q.perApp ? 'peak_credits' : '0'} AS "peakCredits",
         ${sum('credit_seconds', 'creditSeconds')}, ${sum('idle_credit_seconds', 'idleCreditSeconds')}, ${sum('leases', 'leases')},
         ${q.perApp ? 'distinct_principals' : '0'} AS "distinctPrincipals", ${sum('denials_pool_exhausted', 'denialsPoolExhausted')},
         ${sum('denials_group_limit_reached', 'denialsGroupLimitReached')}, ${sum('denials_queue_timeout', 'denialsQueueTimeout')}, ${sum('false_denials', 'falseDenials')}`;
    const [pools, apps] = await Promise.all([
      this.dataSource.query(
        `SELECT ${ms('start')} AS start, peak_credits AS "peakCredits", credit_seconds::float8 AS "creditSeconds"
                ${q.levels ? ', level_seconds AS "levelSeconds", request_levels AS "requestLevels"' : ''}
         FROM pool_usage_rollups ${where}`,
        params,
      ) as Promise<RollupPoolRow[]>,
      this.dataSource.query(`SELECT ${appFigures} FROM app_usage_rollups ${where} ${q.perApp ? '' : 'GROUP BY start'}`, params) as Promise<
        (AppRollupFigures & { start: number })[]
      >,
    ]);
    const unit = q.bucket === 'DAY' ? DAY_MS : HOUR_MS;
    const byStart = new Map<number, { pool?: RollupPoolRow; apps: AppRollupFigures[] }>();
    const entry = (t: number) => byStart.get(t) ?? byStart.set(t, { apps: [] }).get(t)!;
    for (const p of pools) entry(p.start).pool = p;
    for (const a of apps) entry(a.start).apps.push(a);
    return [...byStart.entries()].map(([start, rows]) => sliceOfRows(start, start + unit, rows.pool, rows.apps));
  }

  /** Raw slices of [from, to), a day at a time so memory stays bounded on long windows. */
  private async rawSlices(
    pool: PoolRef,
    q: { from: number; to: number; now: number; cursor: UsageRollupCursorEntity | null; unrecorded: DrawSpan[] },
  ): Promise<UsageSlice[]> {
    const slices: UsageSlice[] = [];
    const bounds = this.rollups.bounds(q.cursor, q.now);
    for (let a = q.from; a < q.to; a = floorTo(a, DAY_MS) + DAY_MS) {
      const b = Math.min(floorTo(a, DAY_MS) + DAY_MS, q.to);
      const range = { organizationId: pool.organizationId, poolId: pool.id, from: a, to: b };
      const [draws, denials, leaseCounts] = await Promise.all([
        this.source.draws({ ...range, now: q.now, bounds, unrecorded: q.unrecorded }),
        this.source.denials(range),
        this.source.leaseCounts(range),
      ]);
      slices.push(...computeSlices({ from: a, to: b, draws, denials, leaseCounts }));
    }
    return slices;
  }
}
