import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/env';
import { PoolEntity } from '../pools/pool.entity';
import { LeaseDrawsService, UnreportedDraw } from './lease-draws.service';
import { LeaseRecordsService } from './lease-records.service';
import { LeaseStore } from '../lease-engine/lease-store';

/**
 * Ends and charges from PostgreSQL what the lease store's events never reported (a stream
 * lost with Redis's data), asking Redis first: a lease or draw Redis still holds is alive,
 * whatever PostgreSQL's copy says (heartbeats reach PostgreSQL behind Redis).
 */
@Injectable()
export class LeaseReconciliationService {
  constructor(
    private readonly store: LeaseStore,
    private readonly records: LeaseRecordsService,
    private readonly draws: LeaseDrawsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Ends in PostgreSQL the pool's leases that are past their expiry plus the rebuild grace
   * and that Redis no longer holds, then returns the ended draws with no record that Redis
   * no longer holds either (or that ended long ago). Call it before reading the events
   * stream to its end and record what it returns after: a draw Redis no longer holds had its
   * draw_ended event (if any) written by then, so the stream's own report, exact to the
   * millisecond, comes first and the reconciled one finds the draw recorded.
   */
  async unreportedDraws(pool: PoolEntity): Promise<UnreportedDraw[]> {
    await this.expireLost(pool);
    const draws = await this.draws.unreported(pool.id);
    if (draws.length === 0) return [];
    const held = await this.store.holds(pool.id, { drawIds: draws.map((d) => d.drawId) });
    if (held.epoch !== pool.epoch) return [];
    return draws.filter((d) => d.overdue || !held.draws.has(d.drawId));
  }

  private async expireLost(pool: PoolEntity): Promise<number> {
    const graceSeconds = this.config.rebuildGraceSeconds;
    const overdue = await this.records.overdue(pool.id, graceSeconds);
    if (overdue.length === 0) return 0;
    const held = await this.store.holds(pool.id, { leaseIds: overdue });
    if (held.epoch !== pool.epoch) return 0;
    return this.records.expireLost(
      overdue.filter((id) => !held.leases.has(id)),
      graceSeconds,
    );
  }
}
