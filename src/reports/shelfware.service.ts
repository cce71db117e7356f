import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import { AppsService } from '../apps/apps.service';
import { CatalogAppEntity } from '../apps/catalog-app.entity';
import { AppError } from '../common/errors/app-error';
import { PoolEntity } from '../pools/pool.entity';
import { PoolsService } from '../pools/pools.service';
import { PrincipalEntity } from '../principals/principal.entity';
import { reportWindow } from './report-window';
import { AppUsage, ShelfwareReport } from './shelfware-report.model';
import { UsageReaderService } from './usage-reader.service';
import { UsageSourceService } from './usage-source.service';
import { capAt, capSeconds, levelShares, suggestCap, timeWeightedPercentile } from './usage-math';
import { AppSlice, creditSecondsOf, DAY_MS, denialsOf, emptyApp, emptySlice, mergeInto, peakOf, UsageSlice } from './usage-slices';

// "Lapsed": granted something in this many days before the window, nothing in it.
const LAPSED_LOOKBACK_DAYS = 90;

type Pair = { appId: string; principalId: string };

export interface ShelfwareQuery {
  organizationId: string;
  poolId: string;
  from: Date;
  to: Date;
  tolerance?: number | null;
}

/** The shelfware and right-sizing report of one pool. */
@Injectable()
export class ShelfwareService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly pools: PoolsService,
    private readonly apps: AppsService,
    private readonly reader: UsageReaderService,
    private readonly source: UsageSourceService,
  ) {}

  async report(q: ShelfwareQuery): Promise<ShelfwareReport> {
    const pool = await this.pools.getInOrganization(q.organizationId, q.poolId, 'poolId');
    const window = reportWindow(q.from, q.to);
    const tolerance = q.tolerance ?? 0;
    if (!Number.isFinite(tolerance) || tolerance < 0 || tolerance >= 1)
      throw AppError.badInput('tolerance', 'tolerance must be a share from 0 (inclusive) to 1 (exclusive)');
    const [slices, apps, changes, pairs] = await Promise.all([
      this.reader.slices(pool, { from: window.from, to: window.end, now: window.now, useDays: true }),
      this.apps.listByPool(pool.id),
      this.source.capChanges(pool.id),
      this.reader.principalPairs(pool, window.from, window.end),
    ]);
    const usage = emptySlice(window.from, window.end);
    for (const s of slices) mergeInto(usage, s);
    const seconds = (window.end - window.from) / 1000;
    const creditSeconds = creditSecondsOf(usage);
    const capacitySeconds = capSeconds(changes, window.from, window.end, pool.cap);
    const cap = capAt(changes, window.to, pool.cap);
    const suggestedCap = suggestCap({ requestLevels: usage.requestLevels, tolerance, dearestCost: Math.max(0, ...apps.map((a) => a.cost)) });
    const { trueDenials, falseDenials } = denialsOf(usage);
    return {
      pool,
      from: q.from,
      to: q.to,
      cap,
      peakInUse: peakOf(usage),
      p95InUse: timeWeightedPercentile(levelShares(usage.levelSeconds, seconds), seconds, 0.95),
      averageInUse: creditSeconds / seconds,
      utilization: capacitySeconds > 0 ? creditSeconds / capacitySeconds : 0,
      unusedCreditHours: (capacitySeconds - creditSeconds) / 3600,
      denials: trueDenials,
      falseDenials,
      suggestedCap,
      estimatedSavings: this.savings(pool, cap, suggestedCap, seconds),
      apps: this.appUsage(apps, usage, pairs),
      lapsedPrincipals: await this.lapsed(pool, window.from, pairs),
    };
  }

  private savings(pool: PoolEntity, cap: number, suggestedCap: number, seconds: number): number | null {
    if (pool.creditHourPrice === null || suggestedCap >= cap) return null;
    return (cap - suggestedCap) * (seconds / 3600) * pool.creditHourPrice;
  }

  private appUsage(apps: CatalogAppEntity[], usage: UsageSlice, pairs: Pair[]): AppUsage[] {
    const principals = new Map<string, number>();
    for (const p of pairs) principals.set(p.appId, (principals.get(p.appId) ?? 0) + 1);
    return [...apps]
      .sort((a, b) => a.key.localeCompare(b.key))
      .map((app) => {
        const a: AppSlice = usage.apps.get(app.id) ?? emptyApp();
        const all = a.denials.POOL_EXHAUSTED + a.denials.GROUP_LIMIT_REACHED + a.denials.QUEUE_TIMEOUT;
        return {
          app,
          leases: a.leases,
          creditHours: a.creditSeconds / 3600,
          peakCredits: a.peak,
          distinctPrincipals: principals.get(app.id) ?? 0,
          denials: all - a.falseDenials,
          idleCreditHours: a.idleCreditSeconds / 3600,
        };
      });
  }

  /** Principals granted something in the lookback before `from` and nothing in the window (`during`). */
  private async lapsed(pool: PoolEntity, from: number, during: Pair[]): Promise<PrincipalEntity[]> {
    const before = await this.reader.principalPairs(pool, from - LAPSED_LOOKBACK_DAYS * DAY_MS, from);
    const active = new Set(during.map((p) => p.principalId));
    const ids = [...new Set(before.map((p) => p.principalId))].filter((id) => !active.has(id));
    if (ids.length === 0) return [];
    const principals = await this.dataSource.manager.findBy(PrincipalEntity, { organizationId: pool.organizationId, id: In(ids) });
    return principals.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }
}
