import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../common/metrics/metrics.service';
import type { PoolStatus } from '../lease-engine/lease-store.types';

/** Per-pool lease metrics. Labelled by pool id (ids, not names, so no tenant data leaks into labels). */
@Injectable()
export class LeaseMetricsService {
  readonly grants: Counter<'pool'>;
  readonly denials: Counter<'pool' | 'reason'>;
  readonly expiries: Counter<'pool'>;
  /** Check-outs of this process waiting in a pool's fair queue now. */
  readonly waiting: Gauge<'pool'>;
  private readonly queueLength: Gauge<'pool'>;
  private readonly cap: Gauge<'pool'>;
  private readonly inUse: Gauge<'pool'>;
  private readonly activeLeases: Gauge<'pool'>;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.grants = new Counter({ name: 'tokenpool_lease_grants_total', help: 'Check-outs granted.', labelNames: ['pool'], registers });
    this.denials = new Counter({ name: 'tokenpool_lease_denials_total', help: 'Check-outs refused, by reason.', labelNames: ['pool', 'reason'], registers });
    this.expiries = new Counter({ name: 'tokenpool_lease_expiries_total', help: 'Leases that expired without a check-in.', labelNames: ['pool'], registers });
    this.cap = new Gauge({ name: 'tokenpool_pool_cap_credits', help: 'Pool cap.', labelNames: ['pool'], registers });
    this.inUse = new Gauge({ name: 'tokenpool_pool_in_use_credits', help: 'Credits held, lingering draws included.', labelNames: ['pool'], registers });
    this.waiting = new Gauge({
      name: 'tokenpool_queue_waiting_requests',
      help: 'Check-outs of this process waiting in the fair queue.',
      labelNames: ['pool'],
      registers,
    });
    this.queueLength = new Gauge({
      name: 'tokenpool_pool_queue_length',
      help: "Tickets in the pool's fair queue, all processes (read by the worker each sweep).",
      labelNames: ['pool'],
      registers,
    });
    this.activeLeases = new Gauge({ name: 'tokenpool_pool_active_leases', help: 'Active leases.', labelNames: ['pool'], registers });
  }

  observePool(poolId: string, status: PoolStatus): void {
    this.cap.set({ pool: poolId }, status.cap);
    this.inUse.set({ pool: poolId }, status.inUse);
    this.activeLeases.set({ pool: poolId }, status.activeLeases);
    this.queueLength.set({ pool: poolId }, status.queued);
  }
}
