import type { AppUsageRollupEntity } from './app-usage-rollup.entity';
import type { PoolUsageRollupEntity, RollupBucket } from './pool-usage-rollup.entity';
import { appOf, creditSecondsOf, emptySlice, peakOf, UsageSlice } from './usage-slices';

export interface PoolRef {
  id: string;
  organizationId: string;
}

type PoolRow = Omit<PoolUsageRollupEntity, 'computedAt'>;

// Rollups keep milliseconds of precision, as the numeric columns do.
const round3 = (v: number) => Math.round(v * 1000) / 1000;

function toJson(map: Map<number, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of map) if (v > 0) out[String(k)] = round3(v);
  return out;
}

function fromJson(json: Record<string, number>): Map<number, number> {
  return new Map(Object.entries(json).map(([k, v]) => [Number(k), Number(v)]));
}

/** Whether a slice held or saw anything: empty hours get no row (the cursor says they were rolled up). */
export function isEmptySlice(slice: UsageSlice): boolean {
  return slice.levelSeconds.size === 0 && slice.requestLevels.size === 0 && slice.apps.size === 0;
}

export function poolRowOf(pool: PoolRef, bucket: RollupBucket, slice: UsageSlice): PoolRow {
  return {
    poolId: pool.id,
    organizationId: pool.organizationId,
    bucket,
    start: new Date(slice.start),
    peakCredits: peakOf(slice),
    creditSeconds: round3(creditSecondsOf(slice)),
    levelSeconds: toJson(slice.levelSeconds),
    requestLevels: toJson(slice.requestLevels),
  };
}

export function appRowsOf(pool: PoolRef, bucket: RollupBucket, slice: UsageSlice): AppUsageRollupEntity[] {
  return [...slice.apps.entries()].map(([appId, a]) => ({
    poolId: pool.id,
    organizationId: pool.organizationId,
    bucket,
    start: new Date(slice.start),
    appId,
    peakCredits: a.peak,
    creditSeconds: round3(a.creditSeconds),
    idleCreditSeconds: round3(a.idleCreditSeconds),
    leases: a.leases,
    distinctPrincipals: a.distinctPrincipals,
    denialsPoolExhausted: a.denials.POOL_EXHAUSTED,
    denialsGroupLimitReached: a.denials.GROUP_LIMIT_REACHED,
    denialsQueueTimeout: a.denials.QUEUE_TIMEOUT,
    falseDenials: a.falseDenials,
  }));
}

/** A rollup bucket read back as the slice it was written from. */
/** An app rollup row's figures, whatever the row's key. */
export type AppRollupFigures = Omit<AppUsageRollupEntity, 'poolId' | 'organizationId' | 'bucket' | 'start'>;

/** A pool rollup row's figures; the level histograms may be left out when a report does not need them. */
export type PoolRollupFigures = Pick<PoolRow, 'peakCredits' | 'creditSeconds'> & Partial<Pick<PoolRow, 'levelSeconds' | 'requestLevels'>>;

export function sliceOfRows(start: number, end: number, pool: PoolRollupFigures | undefined, apps: AppRollupFigures[]): UsageSlice {
  const slice = emptySlice(start, end);
  if (pool) {
    slice.peak = pool.peakCredits;
    slice.creditSeconds = Number(pool.creditSeconds);
    if (pool.levelSeconds) slice.levelSeconds = fromJson(pool.levelSeconds);
    if (pool.requestLevels) slice.requestLevels = fromJson(pool.requestLevels);
  }
  for (const row of apps) {
    const app = appOf(slice, row.appId);
    app.peak = row.peakCredits;
    app.creditSeconds = Number(row.creditSeconds);
    app.idleCreditSeconds = Number(row.idleCreditSeconds);
    app.leases = row.leases;
    app.distinctPrincipals = row.distinctPrincipals;
    app.denials = { POOL_EXHAUSTED: row.denialsPoolExhausted, GROUP_LIMIT_REACHED: row.denialsGroupLimitReached, QUEUE_TIMEOUT: row.denialsQueueTimeout };
    app.falseDenials = row.falseDenials;
  }
  return slice;
}
