import { Injectable } from '@nestjs/common';
import { PoolsService } from '../pools/pools.service';
import { BucketValue, PoolUsagePoint, UsageLevel } from './pool-usage.model';
import { reportWindow } from './report-window';
import { UsageReaderService } from './usage-reader.service';
import { UsageSourceService } from './usage-source.service';
import { bucketStarts, capAt, levelShares } from './usage-math';
import { creditSecondsOf, DAY_MS, denialsOf, emptySlice, HOUR_MS, mergeInto, peakOf } from './usage-slices';

export interface PoolWindowQuery {
  organizationId: string;
  poolId: string;
  from: Date;
  to: Date;
}

/** A pool's use over time: the hourly or daily series, and the utilization histogram. */
@Injectable()
export class PoolUsageService {
  constructor(
    private readonly pools: PoolsService,
    private readonly reader: UsageReaderService,
    private readonly source: UsageSourceService,
  ) {}

  async series(q: PoolWindowQuery & { bucket: BucketValue }): Promise<PoolUsagePoint[]> {
    const pool = await this.pools.getInOrganization(q.organizationId, q.poolId, 'poolId');
    const window = reportWindow(q.from, q.to);
    const unit = q.bucket === 'DAY' ? DAY_MS : HOUR_MS;
    const [slices, changes] = await Promise.all([
      this.reader.slices(pool, { from: window.from, to: window.end, now: window.now, useDays: q.bucket === 'DAY', perApp: false, levels: false }),
      this.source.capChanges(pool.id),
    ]);
    let next = 0;
    return bucketStarts(window.from, window.end, unit).map((bucketStart) => {
      const start = Math.max(bucketStart, window.from);
      const end = Math.min(bucketStart + unit, window.end);
      const bucket = emptySlice(start, end);
      for (; next < slices.length && slices[next].start < bucketStart + unit; next += 1) mergeInto(bucket, slices[next]);
      const { trueDenials, falseDenials } = denialsOf(bucket);
      return {
        start: new Date(start),
        cap: capAt(changes, start, pool.cap),
        peakInUse: peakOf(bucket),
        averageInUse: creditSecondsOf(bucket) / ((end - start) / 1000),
        denials: trueDenials,
        falseDenials,
      };
    });
  }

  async histogram(q: PoolWindowQuery): Promise<UsageLevel[]> {
    const pool = await this.pools.getInOrganization(q.organizationId, q.poolId, 'poolId');
    const window = reportWindow(q.from, q.to);
    const slices = await this.reader.slices(pool, { from: window.from, to: window.end, now: window.now, useDays: true, perApp: false });
    const usage = emptySlice(window.from, window.end);
    for (const s of slices) mergeInto(usage, s);
    const seconds = (window.end - window.from) / 1000;
    return levelShares(usage.levelSeconds, seconds).map((l) => ({ credits: l.level, shareOfTime: l.seconds / seconds }));
  }
}
