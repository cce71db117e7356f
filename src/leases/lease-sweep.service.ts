import { Injectable, Logger } from '@nestjs/common';
import { PoolEntity } from '../pools/pool.entity';
import { PoolEventsService } from '../pools/pool-events.service';
import { PoolsService } from '../pools/pools.service';
import { LeaseDrawsService } from './lease-draws.service';
import { LeaseMetricsService } from './lease-metrics.service';
import { LeaseReconciliationService } from './lease-reconciliation.service';
import { LeaseRecordsService } from './lease-records.service';
import { LeaseStore } from '../lease-engine/lease-store';
import { PoolMirror } from './pool-mirror';
import { PoolStateService } from './pool-state.service';

// One consumer name for every worker: the sweep job runs on one worker at a time, and after a
// crash the next run re-reads what the dead one had read but not acknowledged.
const EVENTS_GROUP = 'recorder';
const EVENTS_CONSUMER = 'recorder';
const EVENTS_BATCH = 500;
// Re-write every pool's catalog mirror this often, repairing a mirror write that failed, and
// end and record leases and draws whose end the lease store never reported.
const RESYNC_EVERY_SWEEPS = 15;

export interface SweepSummary {
  pools: number;
  expired: number;
  recorded: number;
  rebuilt: number;
}

/**
 * What keeps credits coming back when nobody checks out: every few seconds, for every pool,
 * drop expired leases and ended lingers in Redis, record the resulting events in PostgreSQL
 * (idempotently, acknowledging only what is written), rebuild pools whose Redis state is
 * missing or stale, and publish the pool gauges.
 */
@Injectable()
export class LeaseSweepService {
  private readonly logger = new Logger(LeaseSweepService.name);
  private sweeps = 0;

  constructor(
    private readonly pools: PoolsService,
    private readonly store: LeaseStore,
    private readonly records: LeaseRecordsService,
    private readonly poolState: PoolStateService,
    private readonly mirror: PoolMirror,
    private readonly metrics: LeaseMetricsService,
    private readonly events: PoolEventsService,
    private readonly draws: LeaseDrawsService,
    private readonly reconciliation: LeaseReconciliationService,
  ) {}

  /** The schedule's sweep: every pool, with the reconciliation pass every RESYNC_EVERY_SWEEPS sweeps. */
  async sweepAll(): Promise<SweepSummary> {
    const resync = this.sweeps++ % RESYNC_EVERY_SWEEPS === 0;
    return this.sweepEach(await this.pools.listAll(), resync);
  }

  /**
   * Sweeps these pools now, without waiting for the schedule's turn, with the reconciliation
   * pass unless `reconcile` is false (unknown ids are skipped). Like every sweep, it returns
   * once the events its pools' streams held when it began are recorded, whoever else sweeps
   * them at the same time.
   */
  async sweepPools(poolIds: readonly string[], { reconcile = true }: { reconcile?: boolean } = {}): Promise<SweepSummary> {
    const pools = await Promise.all(poolIds.map((id) => this.pools.findById(id)));
    return this.sweepEach(
      pools.filter((p): p is PoolEntity => p !== null),
      reconcile,
    );
  }

  private async sweepEach(pools: readonly PoolEntity[], resync: boolean): Promise<SweepSummary> {
    const summary: SweepSummary = { pools: 0, expired: 0, recorded: 0, rebuilt: 0 };
    for (const pool of pools) {
      summary.pools += 1;
      try {
        await this.sweepPool(pool, resync, summary);
      } catch (err) {
        this.logger.warn(`Sweep of pool ${pool.id} failed: ${(err as Error).message}`);
      }
    }
    return summary;
  }

  private async sweepPool(pool: PoolEntity, resync: boolean, summary: SweepSummary): Promise<void> {
    const status = await this.store.status(pool.id);
    if (status.epoch !== pool.epoch) {
      if (await this.poolState.ensure(pool.id)) summary.rebuilt += 1;
      return;
    }
    summary.rebuilt += await this.poolState.rebuildIfLeasesLost(pool);
    // The row as this sweep read it at its start: Redis ignores it if a change since is there.
    if (resync) await this.mirror.resync(pool);
    const expired = await this.store.sweep(pool.id);
    if (expired > 0) this.events.changed(pool.id);
    summary.expired += expired;
    // Looked up before the stream is read to its end, recorded after (see the reconciliation).
    const unreported = resync ? await this.reconciliation.unreportedDraws(pool) : [];
    // New events first, then the pending ones: those a crashed sweep read and never
    // acknowledged, and those a sweep running beside this one (another worker, or a second
    // call in this process) has read and is still recording. Recording is idempotent, so an
    // event both record is charged once; and a sweep that returns leaves every event its
    // stream held at its start recorded (acknowledged only after the write), where reading
    // the pending ones first let a concurrent sweep take the new ones in between.
    summary.recorded += await this.recordEvents(pool.id, false);
    summary.recorded += await this.recordEvents(pool.id, true);
    summary.recorded += await this.draws.recordAll(unreported);
    this.metrics.observePool(pool.id, await this.store.status(pool.id));
  }

  private async recordEvents(poolId: string, pending: boolean): Promise<number> {
    let recorded = 0;
    for (;;) {
      const events = await this.store.readEvents({ poolId, group: EVENTS_GROUP, consumer: EVENTS_CONSUMER, count: EVENTS_BATCH, pending });
      if (events.length === 0) return recorded;
      for (const event of events) {
        if (event.type === 'lease_expired') {
          await this.records.markExpired(event.leaseId, event.atMs);
          this.metrics.expiries.inc({ pool: poolId });
        }
        if (event.type === 'draw_ended') {
          const { drawId, appId, openerLeaseId, cost, openedAtMs, endedAtMs } = event;
          await this.draws.record({ drawId, appId, openerLeaseId, cost, openedAt: new Date(openedAtMs), endedAt: new Date(endedAtMs), source: 'stream' });
        }
      }
      await this.store.ackEvents(
        poolId,
        EVENTS_GROUP,
        events.map((e) => e.id),
      );
      recorded += events.length;
      if (events.length < EVENTS_BATCH) return recorded;
    }
  }

  /** Every pool's events stream has its consumer group (after Redis lost its data, e.g.); see ScheduleKeeper. */
  async ensureEventGroups(): Promise<void> {
    for (const pool of await this.pools.listAll()) await this.store.ensureEventGroup(pool.id, EVENTS_GROUP);
  }
}
