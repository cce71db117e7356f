import { Injectable } from '@nestjs/common';
import { requireInt } from '../common/validation/validate';
import { PoolEntity } from '../pools/pool.entity';
import { PoolsService } from '../pools/pools.service';
import { CapReplay, ReplayRequest } from './cap-replay';
import { CapSimulation } from './cap-simulation.model';
import { reportWindow, ReportWindow } from './report-window';
import { UsageRollupsService } from './usage-rollups.service';
import { limitedByCap } from './usage-slices';
import { UsageSourceService } from './usage-source.service';

const PAGE = 50_000;
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
    const unrecorded = await this.source.unrecordedDraws({ organizationId: pool.organizationId, poolId: pool.id, now: window.now });
    const held = await this.source.draws({
      poolId: pool.id,
      from: window.from,
      to: window.from + 1,
      now: window.now,
      bounds: this.rollups.bounds(await this.rollups.cursor(pool.id), window.now),
      unrecorded,
      withIdle: false,
    });
    const replay = new CapReplay({ cap, maxWaitMs: maxWaitSeconds * 1000, initial: held.filter((d) => d.start < window.from).map((d) => ({ end: d.end, credits: d.credits })) });
    const pending = [
      ...unrecorded.filter((d) => d.start >= window.from && d.start < window.end).map((d) => ({ at: d.start, credits: d.credits, durationMs: d.end - d.start, order: 0 })),
      ...(await this.deniedDemand(pool, window)),
    ].sort((a, b) => a.at - b.at || a.order - b.order);
    let next = 0;
    let after: { at: string; id: string } | null = null;
    for (;;) {
      const page = await this.source.drawsOpened({ poolId: pool.id, from: window.from, to: window.end, after, limit: PAGE });
      for (const d of page) {
        // Requests in arrival order; at one instant, draws before denials.
        while (next < pending.length && pending[next].at < d.start) replay.offer(pending[next++]);
        replay.offer({ at: d.start, credits: d.credits, durationMs: d.end - d.start });
      }
      if (page.length < PAGE) break;
      after = { at: page[page.length - 1].key, id: page[page.length - 1].id };
    }
    while (next < pending.length) replay.offer(pending[next++]);
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

  /**
   * True denials for lack of credits, replayed as requests of what they asked for, held as
   * long as the app's draws of the window held on average (the pool's default lease length
   * when the app drew nothing).
   */
  private async deniedDemand(pool: PoolEntity, window: ReportWindow): Promise<(ReplayRequest & { order: number })[]> {
    const range = { organizationId: pool.organizationId, poolId: pool.id, from: window.from, to: window.end };
    const [denials, averages] = await Promise.all([this.source.denials(range), this.source.averageDrawSeconds(range)]);
    return denials
      .filter((d) => !d.falseDenial && limitedByCap(d.reason))
      .map((d) => ({ at: d.at, credits: d.requested, durationMs: (averages.get(d.appId) ?? pool.defaultLeaseSeconds) * 1000, order: 1 }));
  }
}
