import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { BudgetStore, periodKeys } from '../lease-engine/budget-store';
import { BudgetClock } from '../budget-engine/budget-clock';
import { BudgetMetricsService } from './budget-metrics.service';
import { BudgetStateService } from '../budget-engine/budget-state.service';

/** Reservations expired per statement. */
const EXPIRE_BATCH = 500;
// An OPEN reservation counts as lost from Redis only if it has this long to run by Redis's clock.
const LOST_MARGIN_MS = 1000;
const PRUNE_EVERY_MS = 3_600_000;

export interface BudgetSweepSummary {
  expired: number;
  rebuilt: number;
}

/**
 * The worker's budget maintenance: records the expiry of OPEN reservations whose time ran out
 * (and releases their holds, which Redis may have released already), rebuilds organizations
 * whose Redis state is missing, stale or went back in time, and sets the budget gauges.
 */
@Injectable()
export class BudgetSweepService {
  private readonly logger = new Logger(BudgetSweepService.name);
  /** When this worker last pruned each organization's past periods (budget clock). */
  private readonly prunedAt = new Map<string, number>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: BudgetStore,
    private readonly state: BudgetStateService,
    private readonly clock: BudgetClock,
    private readonly metrics: BudgetMetricsService,
  ) {}

  async sweep(): Promise<BudgetSweepSummary> {
    const expired = await this.expireDue();
    let rebuilt = 0;
    const organizations: { organization_id: string; epoch: string }[] = await this.dataSource.query(
      'SELECT organization_id, epoch::text AS epoch FROM compute_budget_states ORDER BY organization_id',
    );
    for (const { organization_id: organizationId, epoch } of organizations) {
      try {
        if (await this.checkOrganization(organizationId, epoch)) rebuilt += 1;
        await this.observe(organizationId);
        await this.prune(organizationId);
      } catch (err) {
        this.logger.warn(`Budget check of organization ${organizationId} failed: ${(err as Error).message}`);
      }
    }
    return { expired, rebuilt };
  }

  /** Records OPEN reservations past expiresAt as EXPIRED, then releases their holds in Redis. */
  private async expireDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const [rows]: [{ id: string; organization_id: string }[], number] = await this.dataSource.query(
        `WITH due AS (
           SELECT id FROM compute_reservations WHERE state = 'OPEN' AND expires_at <= now() ORDER BY expires_at LIMIT ${EXPIRE_BATCH} FOR UPDATE SKIP LOCKED
         )
         UPDATE compute_reservations r SET state = 'EXPIRED', ended_at = r.expires_at FROM due WHERE r.id = due.id
         RETURNING r.id, r.organization_id`,
      );
      const byOrganization = new Map<string, string[]>();
      for (const row of rows) byOrganization.set(row.organization_id, [...(byOrganization.get(row.organization_id) ?? []), row.id]);
      for (const [organizationId, ids] of byOrganization) {
        await this.store.release(organizationId, ids).catch((err: Error) => this.logger.warn(`Expired reservations not released in Redis now: ${err.message}`));
      }
      this.metrics.reservations.inc({ result: 'expired' }, rows.length);
      total += rows.length;
      if (rows.length < EXPIRE_BATCH) return total;
    }
  }

  /**
   * Rebuilds the organization when Redis lacks its state, holds another epoch, or lacks an
   * OPEN reservation PostgreSQL recorded (Redis went back in time); true when it rebuilt.
   * One settled or cancelled between the two reads is read again before it counts as lost.
   */
  private async checkOrganization(organizationId: string, epoch: string): Promise<boolean> {
    const openNow = (ids?: string[]): Promise<{ id: string; expires_at: Date }[]> =>
      this.dataSource.query(
        `SELECT id, expires_at FROM compute_reservations WHERE organization_id = $1 AND state = 'OPEN' AND ($2::uuid[] IS NULL OR id = ANY($2::uuid[]))`,
        [organizationId, ids ?? null],
      );
    const open = await openNow();
    const redis = await this.store.holds(
      organizationId,
      open.map((r) => r.id),
    );
    if (redis.epoch !== epoch) return this.state.ensure(organizationId);
    const outliving = (r: { id: string; expires_at: Date }) => !redis.held.has(r.id) && r.expires_at.getTime() > redis.nowMs + LOST_MARGIN_MS;
    const missing = open.filter(outliving).map((r) => r.id);
    if (missing.length === 0) return false;
    const lost = (await openNow(missing)).filter(outliving);
    if (lost.length === 0) return false;
    await this.state.rebuildAfterRollback(organizationId, epoch, `Redis lacks ${lost.length} OPEN reservation(s) (${lost[0].id})`);
    return true;
  }

  /**
   * At most once an hour per organization, deletes the Redis figures of periods that ended
   * before yesterday (DAY) or last month (MONTH): a reservation lasts an hour at most, so a
   * period that ended before is only ever read again from PostgreSQL.
   */
  async prune(organizationId: string, force = false): Promise<number> {
    const now = this.clock.now();
    if (!force && now - (this.prunedAt.get(organizationId) ?? 0) < PRUNE_EVERY_MS) return 0;
    this.prunedAt.set(organizationId, now);
    const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
    return this.store.prunePeriods(organizationId, { day: periodKeys(now - 86_400_000).day, month: periodKeys(monthStart - 1).month });
  }

  private async observe(organizationId: string): Promise<void> {
    const budgets: { id: string; period: 'DAY' | 'MONTH' | 'TOTAL'; limit: string }[] = await this.dataSource.query(
      'SELECT id, period, limit_micros::text AS limit FROM compute_budgets WHERE organization_id = $1',
      [organizationId],
    );
    if (budgets.length === 0) return;
    const periods = this.clock.periods();
    const { figures } = await this.store.read(
      organizationId,
      periods,
      budgets.map((b) => b.id),
    );
    budgets.forEach((budget, i) => {
      this.metrics.observeBudget(budget.id, Number(budget.limit), figures[i].spent, figures[i].reserved);
    });
  }
}
