import { Injectable } from '@nestjs/common';
import { requireInt } from '../common/validation/validate';
import { PoolEntity } from '../pools/pool.entity';
import { PoolsService } from '../pools/pools.service';
import { CapReplay, ReplayRequest } from './cap-replay';
import { CapSimulation } from './cap-simulation.model';
import { reportWindow, ReportWindow } from './report-window';
import { UsageRollupsService } from './usage-rollups.service';
import { PendingDemand } from './pending-demand';
import { DAY_MS, DenialPoint, limitedByCap } from './usage-slices';
import { UsageSourceService } from './usage-source.service';

/** The longest `waitSeconds` a check-out may ask for: by default a replayed request waits as long. */
export const DEFAULT_MAX_WAIT_SECONDS = 300;

export interface SimulateCapQuery {
  organizationId: string;
  poolId: string;
  cap: number;
  from: Date;
  to: Date;
  maxWaitSeconds?: number | null;
}

/** What-if caps: the recorded demand of a window replayed against another cap (rules in cap-replay.ts). */
@Injectable()
export class CapSimulationService {
  constructor(
    private readonly pools: PoolsService,
    private readonly source: UsageSourceService,
    private readonly rollups: UsageRollupsService,
  ) {}

  async simulate(q: SimulateCapQuery): Promise<CapSimulation> {
    const pool = await this.pools.getInOrganization(q.organizationId, q.poolId, 'poolId');
    const window = reportWindow(q.from, q.to);
    const cap = requireInt(q.cap, 'cap', { min: 0, max: 1_000_000_000 });
    const maxWaitSeconds = requireInt(q.maxWaitSeconds ?? DEFAULT_MAX_WAIT_SECONDS, 'maxWaitSeconds', { min: 0, max: 86_400 });
    // A day of draws at a time (bounded memory, each query an index range scan), the next
    // day's read under way while this one replays; the first one while the rest is set up.
    const day = (a: number) => {
      const read = this.source.drawsOpened({ poolId: pool.id, from: a, to: Math.min(a + DAY_MS, window.end) });
      // Its error surfaces where it is awaited; this only keeps a read left behind by an earlier
      // failure from becoming an unhandled rejection.
      read.catch(() => undefined);
      return read;
    };
    let reading = day(window.from);
    const [{ initial, pending: held }, demand] = await Promise.all([this.heldDemand(pool, window), this.deniedDemand(pool, window)]);
    const replay = new CapReplay({ cap, maxWaitMs: maxWaitSeconds * 1000, initial });
    const pending = await PendingDemand.open({ held, ...demand });
    for (let a = window.from; a < window.end; a += DAY_MS) {
      const draws = await reading;
      if (a + DAY_MS < window.end) reading = day(a + DAY_MS);
      for (const [start, end, credits] of draws) {
        // Requests that came before this draw go first; the check spares an await per draw.
        if (pending.nextAt < start) await pending.offerBefore(start, replay);
        replay.offer({ at: start, credits, durationMs: end - start });
      }
    }
    await pending.offerBefore(Infinity, replay);
    const result = replay.finish();
    return {
      cap,
      requests: result.requests,
      denied: result.denied,
      delayed: result.delayed,
      deniedCreditHours: result.deniedCreditSeconds / 3600,
      longestWaitSeconds: Math.ceil(result.longestWaitMs / 1000),
    };
  }

  /** Draws held when the window starts (they keep their credits), and unrecorded draws opened in it (requests, in arrival order). */
  private async heldDemand(pool: PoolEntity, window: ReportWindow): Promise<{ initial: { end: number; credits: number }[]; pending: ReplayRequest[] }> {
    const unrecorded = await this.source.unrecordedDraws({ organizationId: pool.organizationId, poolId: pool.id, now: window.now });
    const bounds = this.rollups.bounds(await this.rollups.cursor(pool.id), window.now);
    const held = await this.source.draws({ poolId: pool.id, from: window.from, to: window.from + 1, now: window.now, bounds, unrecorded, withIdle: false });
    return {
      initial: held.filter((d) => d.start < window.from).map((d) => ({ end: d.end, credits: d.credits })),
      pending: unrecorded
        .filter((d) => d.start >= window.from && d.start < window.end)
        .map((d) => ({ at: d.start, credits: d.credits, durationMs: d.end - d.start }))
        .sort((a, b) => a.at - b.at),
    };
  }

  /**
   * True denials for lack of credits, replayed as requests of what they asked for, held as
   * long as the app's draws of the window held on average (the pool's default lease length
   * when the app drew nothing). Streamed a page of denial rows at a time, never the window's
   * rows at once: a flood of refusals must not fill the process.
   */
  private async deniedDemand(
    pool: PoolEntity,
    window: ReportWindow,
  ): Promise<{ pages: AsyncIterator<DenialPoint[]>; requestOf: (d: DenialPoint) => ReplayRequest | null }> {
    const range = { organizationId: pool.organizationId, poolId: pool.id, from: window.from, to: window.end };
    const averages = await this.source.averageDrawSeconds(range);
    return {
      pages: this.source.denialPages(range),
      requestOf: (d) =>
        d.falseDenial || !limitedByCap(d.reason)
          ? null
          : { at: d.at, credits: d.requested, durationMs: (averages.get(d.appId) ?? pool.defaultLeaseSeconds) * 1000 },
    };
  }
}
