import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { NamedStatements } from '../common/database/named-statements';
import { APP_CONFIG, AppConfig } from '../config/env';
import type { DenialReason } from '../leases/denial.entity';
import type { LiveSpan } from '../leases/draw-idle';
import type { CapChange } from './usage-math';
import type { DenialPoint, DrawSpan, LeaseCount } from './usage-slices';

// Draws with no `lease_draws` row yet are found from leases that are active, or granted this
// recently: an unrecorded draw whose leases are all older than this and ended is one whose
// end the lease store never reported, recorded by the reconciliation within minutes.
const UNRECORDED_LOOKBACK = '2 days';

/** How far back an old window's raw read must look for draws still open at its start. */
export interface DrawBounds {
  /** No recorded draw that ended before `recentFrom` lasted longer than this. */
  longestSeconds: number;
  recentFrom: number;
}

interface DrawRow {
  id: string;
  app_id: string;
  credits: number;
  s: number;
  e: number;
  idle: boolean;
}

interface SpanRow {
  draw_id: string;
  lease_id: string;
  s: number;
  e: number;
  idle_since: number | null;
  i_s: number | null;
  i_e: number | null;
}

const ms = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;

/** Denial rows per page of denialPage: simulateCap holds at most two pages of a window's denials. */
export const DENIAL_PAGE_ROWS = 1000;

interface DenialRow {
  id: string;
  app_id: string;
  at: number;
  requested: number;
  reason: DenialReason;
  count: number;
  false_denial: boolean;
}

// A row's verdict: false when the same principal got the same app from its first refusal to
// the interval after its last one (all the refusals a row counts lie within a few seconds).
// Parameters: $1 organization, $2 pool, $3 from, $4 to, $5 the false-denial interval (s).
const DENIAL_SELECT = `
  SELECT d.id, d.app_id, ${ms('d.at')} AS at, d.requested, d.reason, d.count,
         EXISTS (SELECT 1 FROM leases l
                 WHERE l.organization_id = d.organization_id AND l.principal_id = d.principal_id
                   AND l.acquired_at >= d.at AND l.acquired_at <= coalesce(d.last_at, d.at) + make_interval(secs => $5)
                   AND l.pool_id = d.pool_id AND l.app_id = d.app_id) AS false_denial
  FROM denials d
  WHERE d.organization_id = $1 AND d.pool_id = $2 AND d.at >= $3 AND d.at < $4`;

const denialPoint = (r: DenialRow): DenialPoint => ({
  appId: r.app_id,
  at: r.at,
  requested: r.requested,
  reason: r.reason,
  count: r.count,
  falseDenial: r.false_denial,
});

/**
 * The raw rows behind the pool reports, as plain numbers (ms since the epoch): draws (ended
 * ones from `lease_draws`, held ones derived from `leases`), denials with their true/false
 * verdict, lease counts and idle spans. Read-only; every query is scoped to one pool.
 */
@Injectable()
export class UsageSourceService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Draws that held credits at some instant of [from, to): recorded ones, plus the given
   * unrecorded ones. With bounds, the scan of an old window reads openings in a bounded range
   * instead of every later end.
   */
  async draws(
    q: { poolId: string; from: number; to: number; now: number; bounds: DrawBounds | null; unrecorded: DrawSpan[]; withIdle?: boolean },
    manager = this.dataSource.manager,
  ): Promise<DrawSpan[]> {
    const select = `SELECT id, app_id, credits, ${ms('opened_at')} AS s, ${ms('ended_at')} AS e, idle_credit_seconds > 0 AS idle FROM lease_draws`;
    const params: unknown[] = [q.poolId, new Date(q.from), new Date(q.to)];
    let sql = `${select} WHERE pool_id = $1 AND ended_at > $2 AND opened_at < $3`;
    if (q.bounds) {
      params.push(new Date(q.from - q.bounds.longestSeconds * 1000), new Date(Math.max(q.from, q.bounds.recentFrom)));
      sql = `${select} WHERE pool_id = $1 AND opened_at >= $4 AND opened_at < $3 AND ended_at > $2
             UNION ${select} WHERE pool_id = $1 AND ended_at > $5 AND opened_at < $3`;
    }
    const rows: DrawRow[] = await manager.query(sql, params);
    const draws = rows.map((r) => ({ id: r.id, appId: r.app_id, credits: r.credits, start: r.s, end: r.e, idle: r.idle ? [] : null }));
    for (const d of q.unrecorded) if (d.end > q.from && d.start < q.to) draws.push({ ...d, idle: [] });
    if (q.withIdle === false) draws.forEach((d) => (d.idle = null));
    else await this.attachIdle(draws, q.now, manager);
    return draws;
  }

  /**
   * Draws with no `lease_draws` row: held now (an active lease, or linger after the last one),
   * or ended and not recorded yet. Held ones run until `now`.
   */
  async unrecordedDraws(q: { organizationId: string; poolId: string; now: number }, manager = this.dataSource.manager): Promise<DrawSpan[]> {
    const now = new Date(q.now);
    const rows: DrawRow[] = await manager.query(
      // The unrecorded draw ids first (a handful), then their leases by draw id: joined the
      // other way round, the planner scanned every lease of the table.
      `WITH unrecorded AS MATERIALIZED (
         SELECT c.draw_id FROM (
           SELECT draw_id FROM leases WHERE pool_id = $1 AND state = 'ACTIVE'
           UNION SELECT draw_id FROM leases WHERE organization_id = $2 AND pool_id = $1 AND acquired_at >= $3::timestamptz - interval '${UNRECORDED_LOOKBACK}'
           -- Revoked borrowed leases hold their credits until borrowedUntil, their ended_at.
           UNION SELECT draw_id FROM leases WHERE organization_id = $2 AND pool_id = $1 AND state = 'REVOKED' AND borrowed_until IS NOT NULL
             AND ended_at >= $3::timestamptz - interval '${UNRECORDED_LOOKBACK}') c
         WHERE NOT EXISTS (SELECT 1 FROM lease_draws d WHERE d.id = c.draw_id))
       SELECT l.draw_id AS id, min(l.app_id::text) AS app_id, sum(l.credits)::int AS credits, ${ms('min(l.acquired_at)')} AS s,
              ${ms(`CASE WHEN bool_or(l.state = 'ACTIVE' AND l.expires_at > $3) THEN $3
                    ELSE least($3, max(CASE WHEN l.state = 'ACTIVE' THEN l.expires_at ELSE l.ended_at END) + make_interval(secs => a.linger_seconds)) END`)} AS e,
              false AS idle
       FROM unrecorded u JOIN leases l ON l.draw_id = u.draw_id JOIN apps a ON a.id = l.app_id
       GROUP BY l.draw_id, a.linger_seconds`,
      [q.poolId, q.organizationId, now],
    );
    return rows.map((r) => ({ id: r.id, appId: r.app_id, credits: r.credits, start: r.s, end: r.e, idle: null }));
  }

  /** Denial rows of [from, to) in time order, each with its verdict: false when the same principal got the same app within the interval. */
  async denials(q: { organizationId: string; poolId: string; from: number; to: number }, manager = this.dataSource.manager): Promise<DenialPoint[]> {
    const rows: DenialRow[] = await manager.query(`${DENIAL_SELECT} ORDER BY d.at, d.id`, this.denialParams(q));
    return rows.map(denialPoint);
  }

  /** The denial rows of [from, to) in time order, DENIAL_PAGE_ROWS a page, the next page read while this one is used. */
  async *denialPages(q: { organizationId: string; poolId: string; from: number; to: number }): AsyncGenerator<DenialPoint[]> {
    let page = await this.denialPage(q, null);
    while (page.length > 0) {
      const next = page.length === DENIAL_PAGE_ROWS ? this.denialPage(q, page[page.length - 1].id) : undefined;
      // Its error surfaces where it is awaited; this only keeps a read left behind by a
      // consumer that stopped early from becoming an unhandled rejection.
      next?.catch(() => undefined);
      yield page;
      page = next ? await next : [];
    }
  }

  /** One page of denial rows after the row with id `after` (by time, then id), with their ids. */
  async denialPage(q: { organizationId: string; poolId: string; from: number; to: number }, after: string | null): Promise<(DenialPoint & { id: string })[]> {
    const keyset = after === null ? '' : 'AND (d.at, d.id) > (SELECT a.at, a.id FROM denials a WHERE a.id = $7)';
    const params = [...this.denialParams(q), DENIAL_PAGE_ROWS, ...(after === null ? [] : [after])];
    const rows: DenialRow[] = await this.dataSource.query(`${DENIAL_SELECT} ${keyset} ORDER BY d.at, d.id LIMIT $6`, params);
    return rows.map((r) => ({ ...denialPoint(r), id: r.id }));
  }

  private denialParams(q: { organizationId: string; poolId: string; from: number; to: number }): unknown[] {
    return [q.organizationId, q.poolId, new Date(q.from), new Date(q.to), this.config.falseDenialSeconds];
  }

  /** Leases granted in [from, to), per UTC hour and app, with their distinct principals. */
  async leaseCounts(q: { organizationId: string; poolId: string; from: number; to: number }, manager = this.dataSource.manager): Promise<LeaseCount[]> {
    const rows: { hour: number; app_id: string; leases: number; principals: number }[] = await manager.query(
      `SELECT (floor(extract(epoch FROM acquired_at) / 3600) * 3600000)::float8 AS hour, app_id,
              count(*)::int AS leases, count(DISTINCT principal_id)::int AS principals
       FROM leases WHERE organization_id = $1 AND pool_id = $2 AND acquired_at >= $3 AND acquired_at < $4
       GROUP BY 1, 2`,
      [q.organizationId, q.poolId, new Date(q.from), new Date(q.to)],
    );
    return rows.map((r) => ({ hour: r.hour, appId: r.app_id, leases: r.leases, principals: r.principals }));
  }

  /** Distinct (app, principal) pairs of the leases granted in each of the ranges. */
  async principalPairs(q: { organizationId: string; poolId: string; ranges: [number, number][] }): Promise<{ appId: string; principalId: string }[]> {
    if (q.ranges.length === 0) return [];
    // One index range scan per range (a join against unnest() planned a scan of every lease).
    const sql = q.ranges
      .map(
        (_, i) =>
          `SELECT DISTINCT app_id, principal_id FROM leases WHERE organization_id = $1 AND pool_id = $2 AND acquired_at >= $${3 + 2 * i} AND acquired_at < $${4 + 2 * i}`,
      )
      .join(' UNION ');
    const rows: { app_id: string; principal_id: string }[] = await this.dataSource.query(sql, [
      q.organizationId,
      q.poolId,
      ...q.ranges.flatMap(([a, b]) => [new Date(a), new Date(b)]),
    ]);
    return rows.map((r) => ({ appId: r.app_id, principalId: r.principal_id }));
  }

  /**
   * Recorded draws opened in [from, to), in opening order, as [start ms, end ms, credits]
   * tuples: the replay of a 90-day window reads a million of them, a day at a time.
   */
  async drawsOpened(q: { poolId: string; from: number; to: number }): Promise<[number, number, number][]> {
    // In array row mode: building a million row objects (TypeORM's query() has no row mode)
    // cost more than the queries themselves.
    return new NamedStatements(this.dataSource).arrays<[number, number, number]>(
      `SELECT ${ms('opened_at')}, ${ms('ended_at')}, credits FROM lease_draws WHERE pool_id = $1 AND opened_at >= $2 AND opened_at < $3 ORDER BY opened_at, id`,
      [q.poolId, new Date(q.from), new Date(q.to)],
    );
  }

  /** Average held seconds of the recorded draws opened in [from, to), per app. */
  async averageDrawSeconds(q: { poolId: string; from: number; to: number }): Promise<Map<string, number>> {
    const rows: { app_id: string; s: number }[] = await this.dataSource.query(
      `SELECT app_id, avg(extract(epoch FROM ended_at - opened_at))::float8 AS s FROM lease_draws
       WHERE pool_id = $1 AND opened_at >= $2 AND opened_at < $3 GROUP BY app_id`,
      [q.poolId, new Date(q.from), new Date(q.to)],
    );
    return new Map(rows.map((r) => [r.app_id, r.s]));
  }

  async capChanges(poolId: string, manager = this.dataSource.manager): Promise<CapChange[]> {
    return manager.query(`SELECT ${ms('at')} AS at, cap FROM pool_cap_changes WHERE pool_id = $1 ORDER BY at, id`, [poolId]);
  }

  /** Fills `idle` of the draws that have it with their leases' live spans and idle intervals; clears it on the others. */
  private async attachIdle(draws: DrawSpan[], now: number, manager: EntityManager): Promise<void> {
    const wanted = draws.filter((d) => d.idle !== null);
    const spans = new Map<string, Map<string, LiveSpan>>();
    for (let i = 0; i < wanted.length; i += 2000) {
      const rows: SpanRow[] = await manager.query(
        `SELECT l.draw_id, l.id AS lease_id, ${ms('l.acquired_at')} AS s,
                ${ms(`CASE WHEN l.state = 'ACTIVE' THEN least(l.expires_at, $2) ELSE l.ended_at END`)} AS e,
                CASE WHEN l.state = 'ACTIVE' THEN ${ms('l.idle_since')} END AS idle_since,
                ${ms('i.started_at')} AS i_s, ${ms('i.ended_at')} AS i_e
         FROM leases l LEFT JOIN lease_idle_intervals i ON i.lease_id = l.id
         WHERE l.draw_id = ANY($1::uuid[])`,
        [wanted.slice(i, i + 2000).map((d) => d.id), new Date(now)],
      );
      for (const r of rows) addSpan(spans, r);
    }
    for (const d of draws) {
      const leases = d.idle === null ? undefined : spans.get(d.id);
      d.idle = leases && [...leases.values()].some((l) => l.idle.length > 0) ? [...leases.values()] : null;
    }
  }
}

function addSpan(spans: Map<string, Map<string, LiveSpan>>, r: SpanRow): void {
  let leases = spans.get(r.draw_id);
  if (!leases) spans.set(r.draw_id, (leases = new Map()));
  let span = leases.get(r.lease_id);
  if (!span) {
    span = { start: r.s, end: r.e, idle: [] };
    if (r.idle_since !== null && r.idle_since < r.e) span.idle.push({ start: r.idle_since, end: r.e });
    leases.set(r.lease_id, span);
  }
  if (r.i_s !== null && r.i_e !== null) span.idle.push({ start: r.i_s, end: r.i_e });
}
