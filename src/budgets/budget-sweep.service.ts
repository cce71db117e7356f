import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/env';
import { BudgetStore, periodKeys } from '../lease-engine/budget-store';
import { BudgetClock } from '../budget-engine/budget-clock';
import { BudgetMetricsService } from './budget-metrics.service';
import { budgetRows, BudgetStateService } from '../budget-engine/budget-state.service';

/** Reservations expired per statement. */
const EXPIRE_BATCH = 500;
// An OPEN reservation counts as lost from Redis only if it has this long to run by Redis's clock.
const LOST_MARGIN_MS = 1000;
const PRUNE_EVERY_MS = 3_600_000;
const VERIFY_RECHECK_MS = 2000;

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
  /** When this worker last compared each organization's spend with PostgreSQL. */
  private readonly verifiedAt = new Map<string, number>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: BudgetStore,
    private readonly state: BudgetStateService,
    private readonly clock: BudgetClock,
    private readonly metrics: BudgetMetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async sweep(): Promise<BudgetSweepSummary> {
    const expired = await this.expireDue();
    let rebuilt = 0;
    const organizations: { organization_id: string; epoch: string }[] = await this.dataSource.query(
      'SELECT organization_id, epoch::text AS epoch FROM compute_budget_states ORDER BY organization_id',
    );
    for (const { organization_id: organizationId, epoch } of organizations) {
      try {
        if ((await this.checkOrganization(organizationId, epoch)) || (await this.verifySpent(organizationId, epoch))) rebuilt += 1;
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
   * At most every BUDGET_VERIFY_SECONDS per organization, compares what each budget spent this
   * period in Redis with PostgreSQL's record, and rebuilds the organization when Redis missed
   * a write (a process that died between PostgreSQL's commit and its Redis call, a Redis that
   * lost one) or counted one twice. Writes in flight make the two differ for a moment, so two
   * readings VERIFY_RECHECK_MS apart are compared crosswise: spent only grows within a period,
   * so Redis's later figure below PostgreSQL's earlier one is a missed write, and Redis's
   * earlier figure above PostgreSQL's later one a double count.
   */
  async verifySpent(organizationId: string, epoch: string, force = false): Promise<boolean> {
    const now = Date.now();
    if (!force && now - (this.verifiedAt.get(organizationId) ?? 0) < this.config.budgetVerifySeconds * 1000) return false;
    this.verifiedAt.set(organizationId, now);
    const first = await this.spentReadings(organizationId);
    if (first.every((b) => b.redis === b.postgres)) return false;
    await new Promise((resolve) => setTimeout(resolve, VERIFY_RECHECK_MS));
    const second = new Map((await this.spentReadings(organizationId)).map((b) => [`${b.budgetId}:${b.period}`, b]));
    const wrong = first.find((b) => {
      const later = second.get(`${b.budgetId}:${b.period}`);
      return later !== undefined && (later.redis < b.postgres || b.redis > later.postgres);
    });
    if (!wrong) return false;
    await this.state.rebuildAfterRollback(
      organizationId,
      epoch,
      `budget ${wrong.budgetId} spent ${wrong.redis} micro-units by Redis, ${wrong.postgres} by PostgreSQL`,
    );
    return true;
  }

  /** Each budget's spend this period, by Redis and by PostgreSQL (budgets Redis does not know left out). */
  private async spentReadings(organizationId: string): Promise<{ budgetId: string; period: string; redis: number; postgres: number }[]> {
    const periods = this.clock.periods();
    const budgets = await budgetRows(this.dataSource.manager, organizationId);
    if (budgets.length === 0) return [];
    const postgres = await this.state.spentFromPostgres(this.dataSource.manager, organizationId, budgets, periods);
    const redis = await this.store.read(
      organizationId,
      periods,
      budgets.map((b) => b.id),
    );
    return budgets.flatMap((budget, i) =>
      redis.figures[i].limit === null ? [] : [{ budgetId: budget.id, period: postgres[i].period, redis: redis.figures[i].spent, postgres: postgres[i].amount }],
    );
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
