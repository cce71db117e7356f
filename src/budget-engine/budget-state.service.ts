import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AppError } from '../common/errors/app-error';
import { BudgetDefinition, BudgetPeriodName, BudgetStore, InstallState, PeriodKeys, periodKeyOf } from '../lease-engine/budget-store';
import { BudgetClock } from './budget-clock';
import { BudgetEpochs } from './budget-epochs';

// pg_advisory_lock(classid, objid): one lock per organization, so its rebuilds never overlap.
const REBUILD_LOCK_CLASS = 7_247;

/** A compute budget as the engine reads it (a row of compute_budgets; the budgets module's entity fits it). */
export interface BudgetRow {
  id: string;
  scope: 'ORGANIZATION' | 'TEAM' | 'PRINCIPAL' | 'WORK_UNIT';
  team: string | null;
  principalId: string | null;
  workUnitId: string | null;
  period: BudgetPeriodName;
  /** Micro-units (bigint, read as a string). */
  limitMicros: string;
}

/** The Redis subject of a budget: whose usage it limits. */
export function subjectOf(budget: Pick<BudgetRow, 'scope' | 'team' | 'principalId' | 'workUnitId'>): string {
  switch (budget.scope) {
    case 'TEAM':
      return `t:${budget.team}`;
    case 'PRINCIPAL':
      return `p:${budget.principalId}`;
    case 'WORK_UNIT':
      return `w:${budget.workUnitId}`;
    default:
      return 'o';
  }
}

export function definitionOf(budget: BudgetRow): BudgetDefinition {
  return { id: budget.id, period: budget.period, limit: Number(budget.limitMicros), subject: subjectOf(budget) };
}

/** The organization's budgets as the engine reads them. */
export function budgetRows(manager: EntityManager, organizationId: string): Promise<BudgetRow[]> {
  return manager.query(
    `SELECT id, scope, team, principal_id AS "principalId", work_unit_id AS "workUnitId", period, limit_micros::text AS "limitMicros"
     FROM compute_budgets WHERE organization_id = $1 ORDER BY id`,
    [organizationId],
  );
}

/** [from, to) of a period key; null bounds for TOTAL. */
export function periodBounds(key: string): { from: Date | null; to: Date | null } {
  if (key.startsWith('d')) {
    const from = Date.UTC(Number(key.slice(1, 5)), Number(key.slice(5, 7)) - 1, Number(key.slice(7, 9)));
    return { from: new Date(from), to: new Date(from + 86_400_000) };
  }
  if (key.startsWith('m')) {
    const year = Number(key.slice(1, 5));
    const month = Number(key.slice(5, 7)) - 1;
    return { from: new Date(Date.UTC(year, month, 1)), to: new Date(Date.UTC(year, month + 1, 1)) };
  }
  return { from: null, to: null };
}

// What a budget spent in a period: the settled reservations that charged it (in the period
// they were made in), and every other compute row of its scope that occurred in the period,
// with the correction rows that priced unpriced ones later.
const SPENT = (scope: string) => `
  SELECT
    (SELECT coalesce(sum(r.settled_cost_micros), 0) FROM compute_reservations r
      WHERE r.organization_id = $1 AND r.state = 'SETTLED' AND r.charged AND $2 = ANY(r.holds))
  + (SELECT coalesce(sum(round(e.cost * 1000000)), 0) FROM ledger_entries e
      WHERE e.organization_id = $1 AND e.kind IN ('COMPUTE', 'CORRECTION') AND e.meter = 'COMPUTE' AND e.cost IS NOT NULL
        AND ($3::timestamptz IS NULL OR e.occurred_at >= $3) AND ($4::timestamptz IS NULL OR e.occurred_at < $4)
        AND ${scope}
        AND NOT EXISTS (SELECT 1 FROM compute_reservations r WHERE r.organization_id = $1 AND r.charged AND r.settle_event_key = e.event_key)
    ) AS spent`;

const SCOPE_SQL: Record<BudgetRow['scope'], string> = {
  ORGANIZATION: 'true',
  PRINCIPAL: 'e.principal_id = $5',
  WORK_UNIT: 'e.work_unit_id = $5',
  TEAM: 'e.principal_id IN (SELECT p.id FROM principals p WHERE p.organization_id = $1 AND p.team = $5)',
};

/**
 * Keeps each organization's budget state in Redis in line with PostgreSQL. When Redis lost
 * it (no epoch), holds a stale one (another epoch than the database's) or went back in time
 * (a grant's seq not above one recorded, or an OPEN reservation missing), the state is
 * rebuilt: under a per-organization advisory lock and the exclusive lock of its epoch row,
 * the epoch is raised, reservations that ran out meanwhile are expired, and the budgets, the
 * OPEN reservations and what each budget spent this period (from the ledger and the settled
 * reservations) are installed in Redis before the new epoch commits. Until then every budget
 * call answers UNAVAILABLE: the budgets fail closed.
 */
@Injectable()
export class BudgetStateService {
  private readonly logger = new Logger(BudgetStateService.name);
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: BudgetStore,
    private readonly epochs: BudgetEpochs,
    private readonly clock: BudgetClock,
  ) {}

  /** Rebuilds the organization's state when it is missing or stale; true when it rebuilt. Deduplicated per process. */
  ensure(organizationId: string): Promise<boolean> {
    const running = this.inFlight.get(organizationId);
    if (running) return running;
    const work = this.rebuildIfNeeded(organizationId).finally(() => this.inFlight.delete(organizationId));
    this.inFlight.set(organizationId, work);
    return work;
  }

  /** As ensure, answering UNAVAILABLE (retry) when the rebuild cannot run now. */
  async ensureOrUnavailable(organizationId: string): Promise<void> {
    try {
      await this.ensure(organizationId);
    } catch (err) {
      this.logger.warn(`Budget state of organization ${organizationId} could not be rebuilt: ${(err as Error).message}`);
      throw AppError.unavailable('The compute budgets are being restored; retry in a moment', 1);
    }
  }

  /** Redis went back in time: the epoch is raised so the rebuild replaces its state. */
  async rebuildAfterRollback(organizationId: string, epoch: string, reason: string): Promise<void> {
    this.logger.warn(`Budgets of organization ${organizationId}: ${reason}; Redis went back in time, rebuilding`);
    await this.epochs.raise(organizationId, epoch);
    await this.ensure(organizationId);
  }

  private async rebuildIfNeeded(organizationId: string): Promise<boolean> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock($1, hashtext($2))', [REBUILD_LOCK_CLASS, organizationId]);
      try {
        return await runner.manager.transaction((manager) => this.rebuildLocked(organizationId, manager));
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1, hashtext($2))', [REBUILD_LOCK_CLASS, organizationId]);
      }
    } finally {
      await runner.release();
    }
  }

  private async rebuildLocked(organizationId: string, manager: EntityManager): Promise<boolean> {
    const periods = this.clock.periods();
    const { epoch: redisEpoch } = await this.store.read(organizationId, periods, []);
    await manager.query('INSERT INTO compute_budget_states (organization_id) VALUES ($1) ON CONFLICT DO NOTHING', [organizationId]);
    const [{ epoch }]: { epoch: string }[] = await manager.query(
      'SELECT epoch::text AS epoch FROM compute_budget_states WHERE organization_id = $1 FOR UPDATE',
      [organizationId],
    );
    if (redisEpoch === epoch) return false;
    const [[raised]]: [{ epoch: string }[], number] = await manager.query(
      'UPDATE compute_budget_states SET epoch = greatest(epoch, $2::bigint) + 1 WHERE organization_id = $1 RETURNING epoch::text AS epoch',
      [organizationId, redisEpoch ?? '0'],
    );
    // Reservations whose time ran out while Redis was gone are recorded expired here.
    await manager.query(
      `UPDATE compute_reservations SET state = 'EXPIRED', ended_at = expires_at WHERE organization_id = $1 AND state = 'OPEN' AND expires_at <= now()`,
      [organizationId],
    );
    const state = await this.snapshot(manager, organizationId, raised.epoch, periods);
    // Installed before the new epoch commits: a write waiting for the epoch row meets Redis at the new epoch.
    const restored = await this.store.install(organizationId, state);
    this.logger.warn(
      `Rebuilt the compute budgets of organization ${organizationId} in Redis at epoch ${raised.epoch} (was ${redisEpoch ?? 'missing'}): ${state.budgets.length} budgets, ${restored} open reservations`,
    );
    return true;
  }

  /**
   * What each budget spent in its current period by PostgreSQL's record (micro-units): the
   * figure a rebuild installs, and the one the worker compares Redis's with.
   */
  async spentFromPostgres(manager: EntityManager, organizationId: string, budgets: BudgetRow[], periods: PeriodKeys): Promise<InstallState['spent']> {
    const spent: InstallState['spent'] = [];
    for (const budget of budgets) {
      const period = periodKeyOf(budget.period, periods);
      const { from, to } = periodBounds(period);
      const subject = budget.scope === 'TEAM' ? budget.team : budget.scope === 'PRINCIPAL' ? budget.principalId : budget.workUnitId;
      const args = [organizationId, `${budget.id}:${period}`, from, to, ...(budget.scope === 'ORGANIZATION' ? [] : [subject])];
      const [row]: { spent: string }[] = await manager.query(SPENT(SCOPE_SQL[budget.scope]), args);
      spent.push({ budgetId: budget.id, period, amount: Number(row.spent) });
    }
    return spent;
  }

  private async snapshot(manager: EntityManager, organizationId: string, epoch: string, periods: PeriodKeys): Promise<InstallState> {
    const budgets = await budgetRows(manager, organizationId);
    const spent = await this.spentFromPostgres(manager, organizationId, budgets, periods);
    const open: { id: string; amount: string; expires_at: Date; seq: string; holds: string[] }[] = await manager.query(
      `SELECT id, amount_micros::text AS amount, expires_at, seq::text AS seq, holds FROM compute_reservations WHERE organization_id = $1 AND state = 'OPEN'`,
      [organizationId],
    );
    const [{ seq }]: { seq: string }[] = await manager.query('SELECT coalesce(max(seq), 0)::text AS seq FROM compute_reservations WHERE organization_id = $1', [
      organizationId,
    ]);
    return {
      epoch,
      seq,
      budgets: budgets.map(definitionOf),
      spent,
      reservations: open.map((r) => ({
        id: r.id,
        amount: Number(r.amount),
        expiresAtMs: r.expires_at.getTime(),
        seq: Number(r.seq),
        holds: r.holds,
      })),
    };
  }
}
