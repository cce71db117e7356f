import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { And, DataSource, EntityManager, LessThan, MoreThanOrEqual } from 'typeorm';
import { AppError } from '../common/errors/app-error';
import { isUuid } from '../common/validation/validate';
import { APP_CONFIG, AppConfig } from '../config/env';
import { AppUsageRollupEntity } from './app-usage-rollup.entity';
import { PoolRef, PoolRollupFigures, sliceOfRows } from './rollup-rows';
import { writePrincipalDay, writeRollupRows } from './rollup-writes';
import { UsageRollupCursorEntity } from './usage-rollup-cursor.entity';
import { computeSlices, DAY_MS, DrawSpan, emptySlice, floorTo, ceilTo, HOUR_MS, mergeInto } from './usage-slices';
import { DrawBounds, UsageSourceService } from './usage-source.service';

// Each run recomputes this many settled hours again, so draws recorded a little late (the
// reconciliation after Redis lost events) land in their hours.
const RECOMPUTE_HOURS = 2;
// One run rolls up at most this much per pool, so a long backlog is caught up over runs.
const CATCH_UP_MS = 7 * DAY_MS;
// A raw read of an old window trusts `longestDrawSeconds` only for draws that ended before
// this long ago; later ones are found by their end.
const LATE_RECORDING_MS = DAY_MS;

export interface RollupSummary {
  pools: number;
  hours: number;
}

/**
 * Keeps the hourly and daily rollups of every pool: computes hours from raw rows (the same
 * computeSlices a report uses for raw reads), replaces their rows, re-derives the days they
 * touch, and moves the pool's cursor. Idempotent: a range computed twice from the same rows
 * writes the same rows.
 */
@Injectable()
export class UsageRollupsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly source: UsageSourceService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Hours before this have ended long enough ago for every denial in them to have its
   * verdict: a denial row keeps counting refusals for up to DENIAL_COALESCE_SECONDS after its
   * first, and its verdict waits FALSE_DENIAL_SECONDS after its last.
   */
  settledUntil(now: number): number {
    return floorTo(now - (this.config.denialCoalesceSeconds + this.config.falseDenialSeconds + 60) * 1000, HOUR_MS);
  }

  async cursor(poolId: string): Promise<UsageRollupCursorEntity | null> {
    return this.dataSource.manager.findOneBy(UsageRollupCursorEntity, { poolId });
  }

  /** Bounds for raw reads of a pool's old windows (null without rollups: read every overlap). */
  bounds(cursor: UsageRollupCursorEntity | null, now: number): DrawBounds | null {
    if (!cursor) return null;
    return { longestSeconds: cursor.longestDrawSeconds, recentFrom: Math.min(cursor.coveredUntil.getTime(), now) - LATE_RECORDING_MS };
  }

  /** The worker's periodic run over every pool. */
  async rollAll(now = Date.now()): Promise<RollupSummary> {
    const pools: PoolRef[] = await this.dataSource.query('SELECT id, organization_id AS "organizationId" FROM pools ORDER BY created_at, id');
    let hours = 0;
    for (const pool of pools) hours += await this.rollPool(pool, now);
    return { pools: pools.length, hours };
  }

  /** Rolls a pool's settled hours up, recomputing the last few. Returns the hours computed. */
  async rollPool(pool: PoolRef, now = Date.now()): Promise<number> {
    const cursor = await this.ensureCursor(pool);
    const target = this.settledUntil(now);
    const until = cursor.coveredUntil.getTime();
    const start = Math.max(cursor.coveredFrom.getTime(), Math.min(until, target) - RECOMPUTE_HOURS * HOUR_MS);
    const end = Math.min(target, Math.max(until, start) + CATCH_UP_MS);
    if (start >= end) return 0;
    await this.computeRange(pool, start, end, now);
    return (end - start) / HOUR_MS;
  }

  /**
   * After history was written into [from, to) (an import): recomputes those hours, fills the
   * gaps to the existing coverage and on to the last settled hour, and widens the coverage.
   * `longestSeconds` is the longest draw written.
   */
  async refresh(pool: PoolRef, range: { from: number; to: number; longestSeconds: number }, now = Date.now()): Promise<void> {
    const cursor = await this.ensureCursor(pool);
    await this.raiseLongest(pool.id, range.longestSeconds);
    const target = this.settledUntil(now);
    const [coveredFrom, coveredUntil] = [cursor.coveredFrom.getTime(), cursor.coveredUntil.getTime()];
    const a = floorTo(range.from, HOUR_MS);
    const b = Math.min(ceilTo(range.to, HOUR_MS), target);
    if (a < coveredFrom) await this.computeRange(pool, a, Math.min(coveredFrom, target), now);
    if (Math.max(a, coveredFrom) < Math.min(b, coveredUntil)) await this.computeRange(pool, Math.max(a, coveredFrom), Math.min(b, coveredUntil), now);
    if (coveredUntil < target) await this.computeRange(pool, coveredUntil, target, now);
  }

  /**
   * After history was written into [from, to): recomputes the hours of it that the rollups
   * already cover, and nothing else. Reports read raw rows wherever the rollups do not reach,
   * so history older than the coverage (a license log of years ago) is right at once, and
   * the coverage is not stretched over years in one request; the job extends it later.
   */
  async refreshCovered(pool: PoolRef, range: { from: number; to: number; longestSeconds: number }, now = Date.now()): Promise<void> {
    const cursor = await this.cursor(pool.id);
    if (!cursor) return;
    await this.raiseLongest(pool.id, range.longestSeconds);
    const a = Math.max(floorTo(range.from, HOUR_MS), cursor.coveredFrom.getTime());
    const b = Math.min(ceilTo(range.to, HOUR_MS), cursor.coveredUntil.getTime(), this.settledUntil(now));
    if (a < b) await this.computeRange(pool, a, b, now);
  }

  /**
   * Recomputes [from, to) (default: everything) within the pool's coverage, e.g. after
   * FALSE_DENIAL_SECONDS changed. Returns the hours recomputed.
   */
  async rebuild(pool: PoolRef, range: { from?: Date; to?: Date } = {}, now = Date.now()): Promise<number> {
    const cursor = await this.ensureCursor(pool);
    await this.raiseLongest(pool.id, await this.longestRecorded(pool.id));
    const a = Math.max(cursor.coveredFrom.getTime(), floorTo(range.from?.getTime() ?? 0, HOUR_MS));
    const b = Math.min(cursor.coveredUntil.getTime(), ceilTo(range.to?.getTime() ?? now, HOUR_MS));
    if (a < b) await this.computeRange(pool, a, b, now);
    return Math.max(0, (b - a) / HOUR_MS);
  }

  /** rebuild() over one pool or every pool (the operator CLI). */
  async rebuildPools(q: { poolId?: string; from?: Date; to?: Date }): Promise<RollupSummary> {
    if (q.poolId !== undefined && !isUuid(q.poolId)) throw AppError.badInput('pool', `No pool with id ${q.poolId}`);
    const pools: PoolRef[] = await this.dataSource.query(
      'SELECT id, organization_id AS "organizationId" FROM pools WHERE $1::uuid IS NULL OR id = $1 ORDER BY created_at, id',
      [q.poolId ?? null],
    );
    let hours = 0;
    for (const pool of pools) hours += await this.rebuild(pool, q);
    return { pools: pools.length, hours };
  }

  /** Creates the cursor on first use: empty coverage starting where the pool's data starts. */
  private async ensureCursor(pool: PoolRef): Promise<UsageRollupCursorEntity> {
    const existing = await this.cursor(pool.id);
    if (existing) return existing;
    const rows: { earliest: Date }[] = await this.dataSource.query(
      `SELECT least((SELECT created_at FROM pools WHERE id = $1),
                    (SELECT min(opened_at) FROM lease_draws WHERE pool_id = $1),
                    (SELECT min(acquired_at) FROM leases WHERE pool_id = $1 AND state = 'ACTIVE'),
                    (SELECT min(at) FROM denials WHERE organization_id = $2 AND pool_id = $1)) AS earliest`,
      [pool.id, pool.organizationId],
    );
    const start = new Date(floorTo(rows[0].earliest.getTime(), HOUR_MS));
    const longest = await this.longestRecorded(pool.id);
    await this.dataSource.query(
      `INSERT INTO usage_rollup_cursors (pool_id, organization_id, covered_from, covered_until, longest_draw_seconds)
       VALUES ($1, $2, $3, $3, $4) ON CONFLICT (pool_id) DO NOTHING`,
      [pool.id, pool.organizationId, start, longest],
    );
    return (await this.cursor(pool.id))!;
  }

  private async longestRecorded(poolId: string): Promise<number> {
    const rows: { s: number }[] = await this.dataSource.query(
      'SELECT coalesce(ceil(max(extract(epoch FROM ended_at - opened_at))), 0)::int AS s FROM lease_draws WHERE pool_id = $1',
      [poolId],
    );
    return rows[0].s;
  }

  private async raiseLongest(poolId: string, seconds: number): Promise<void> {
    await this.dataSource.query(
      'UPDATE usage_rollup_cursors SET longest_draw_seconds = $2, updated_at = now() WHERE pool_id = $1 AND longest_draw_seconds < $2',
      [poolId, Math.ceil(seconds)],
    );
  }

  /** Computes the hours of [from, to) day by day, then widens the coverage when the range touches it. */
  private async computeRange(pool: PoolRef, from: number, to: number, now: number): Promise<void> {
    const unrecorded = await this.source.unrecordedDraws({ organizationId: pool.organizationId, poolId: pool.id, now });
    let longest = 0;
    for (let a = from; a < to; a = floorTo(a, DAY_MS) + DAY_MS) {
      const b = Math.min(floorTo(a, DAY_MS) + DAY_MS, to);
      longest = Math.max(longest, await this.computeChunk(pool, { from: a, to: b, now, unrecorded }));
    }
    // Written only when it moves: updated_at says when the coverage last changed.
    await this.dataSource.query(
      `UPDATE usage_rollup_cursors c SET covered_from = v.f, covered_until = v.u, longest_draw_seconds = v.l, updated_at = now()
       FROM (SELECT pool_id,
                    CASE WHEN $3 >= covered_from THEN least(covered_from, $2) ELSE covered_from END AS f,
                    CASE WHEN $2 <= covered_until THEN greatest(covered_until, $3) ELSE covered_until END AS u,
                    greatest(longest_draw_seconds, $4) AS l
             FROM usage_rollup_cursors WHERE pool_id = $1) v
       WHERE c.pool_id = v.pool_id AND (c.covered_from, c.covered_until, c.longest_draw_seconds) IS DISTINCT FROM (v.f, v.u, v.l)`,
      [pool.id, new Date(from), new Date(to), Math.ceil(longest / 1000)],
    );
  }

  /**
   * One day's hours (or part of them), in one transaction under the pool's rollup lock, so
   * a run and an import's refresh never interleave their writes. Returns the longest recorded draw seen (ms).
   */
  private async computeChunk(pool: PoolRef, q: { from: number; to: number; now: number; unrecorded: DrawSpan[] }): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('usage-rollup:' || $1, 0))`, [pool.id]);
      const cursor = await manager.findOneBy(UsageRollupCursorEntity, { poolId: pool.id });
      const range = { organizationId: pool.organizationId, poolId: pool.id, from: q.from, to: q.to };
      const draws = await this.source.draws({ ...range, now: q.now, bounds: this.bounds(cursor, q.now), unrecorded: q.unrecorded }, manager);
      const [denials, leaseCounts] = [await this.source.denials(range, manager), await this.source.leaseCounts(range, manager)];
      const slices = computeSlices({ from: q.from, to: q.to, draws, denials, leaseCounts });
      await writeRollupRows(manager, { pool, bucket: 'HOUR', from: q.from, to: q.to, slices });
      await this.rollDay(manager, pool, floorTo(q.from, DAY_MS), q.to);
      const unrecordedIds = new Set(q.unrecorded.map((d) => d.id));
      return draws.reduce((longest, d) => (unrecordedIds.has(d.id) ? longest : Math.max(longest, d.end - d.start)), 0);
    });
  }

  /**
   * Re-derives day `day` from its hour rows, and who was granted what that day from the
   * leases granted up to `until` (the end of what has been rolled up of it).
   */
  private async rollDay(manager: EntityManager, pool: PoolRef, day: number, until: number): Promise<void> {
    const range: [string, Date, Date] = [pool.id, new Date(day), new Date(day + DAY_MS)];
    const hours: PoolRollupFigures[] = await manager.query(
      `SELECT peak_credits AS "peakCredits", credit_seconds::float8 AS "creditSeconds", level_seconds AS "levelSeconds", request_levels AS "requestLevels"
       FROM pool_usage_rollups WHERE pool_id = $1 AND bucket = 'HOUR' AND start >= $2 AND start < $3`,
      range,
    );
    const appHours = await manager.find(AppUsageRollupEntity, {
      where: { poolId: pool.id, bucket: 'HOUR', start: And(MoreThanOrEqual(range[1]), LessThan(range[2])) },
    });
    await writePrincipalDay(manager, { pool, day: range[1], until: new Date(Math.min(until, day + DAY_MS)) });
    const principals: { app_id: string; n: number }[] = await manager.query(
      'SELECT app_id, count(*)::int AS n FROM usage_principal_days WHERE pool_id = $1 AND day = $2 GROUP BY app_id',
      [pool.id, range[1]],
    );
    const daySlice = emptySlice(day, day + DAY_MS);
    for (const h of hours) mergeInto(daySlice, sliceOfRows(day, day + DAY_MS, h, []));
    for (const a of appHours) mergeInto(daySlice, sliceOfRows(day, day + DAY_MS, undefined, [a]));
    for (const p of principals) {
      const app = daySlice.apps.get(p.app_id);
      if (app) app.distinctPrincipals = p.n;
    }
    await writeRollupRows(manager, { pool, bucket: 'DAY', from: day, to: day + DAY_MS, slices: [daySlice] });
  }
}
