import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import type { AuthContext } from '../auth/auth-context';
import { AppError } from '../common/errors/app-error';
import { isUuid, requireNumber, requireText } from '../common/validation/validate';
import { BudgetStore, periodKeyOf, PeriodKeys } from '../lease-engine/budget-store';
import { PrincipalsService } from '../principals/principals.service';
import { WorkUnitsService } from '../work-units/work-units.service';
import { BudgetClock } from '../budget-engine/budget-clock';
import { BudgetEpochs } from '../budget-engine/budget-epochs';
import { BudgetMetricsService } from './budget-metrics.service';
import { fromMicros, toMicros } from '../budget-engine/budget-spend.service';
import { BudgetStateService, definitionOf, periodBounds, subjectOf } from '../budget-engine/budget-state.service';
import { BudgetPeriod, BudgetScope, ComputeBudget } from './budget.model';
import { ComputeBudgetEntity } from './compute-budget.entity';
import { CreateComputeBudgetInput, UpdateComputeBudgetInput } from './dto/budget.inputs';

export const MAX_BUDGET_LIMIT = 1_000_000_000;
const MAX_NAME = 200;

type Actor = Pick<AuthContext, 'organizationId' | 'principalId'>;

/**
 * Compute budgets: the admin's CRUD (audited, in PostgreSQL, then told to Redis under the
 * organization's epoch) and the live figures, read from Redis after making sure its state is
 * the database's.
 */
@Injectable()
export class BudgetsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: BudgetStore,
    private readonly state: BudgetStateService,
    private readonly epochs: BudgetEpochs,
    private readonly clock: BudgetClock,
    private readonly audit: AuditService,
    private readonly principals: PrincipalsService,
    private readonly workUnits: WorkUnitsService,
    private readonly metrics: BudgetMetricsService,
  ) {}

  async create(actor: Actor, input: CreateComputeBudgetInput): Promise<ComputeBudget> {
    const name = requireText(input.name, 'input.name', { max: MAX_NAME });
    const limit = toMicros(requireNumber(input.limit, 'input.limit', { min: 0, max: MAX_BUDGET_LIMIT }));
    if (!Object.values(BudgetScope).includes(input.scope))
      throw AppError.badInput('input.scope', `input.scope must be one of ${Object.values(BudgetScope).join(', ')}`);
    if (!Object.values(BudgetPeriod).includes(input.period))
      throw AppError.badInput('input.period', `input.period must be one of ${Object.values(BudgetPeriod).join(', ')}`);
    const subject = await this.subject(actor.organizationId, input);
    const budget = await this.changeInRedis(actor.organizationId, async (manager) => {
      await this.requireFreeName(manager, actor.organizationId, name);
      const created = await manager.save(
        ComputeBudgetEntity,
        manager.create(ComputeBudgetEntity, {
          organizationId: actor.organizationId,
          name,
          scope: input.scope,
          period: input.period,
          limitMicros: String(limit),
          ...subject,
        }),
      );
      await this.audit.record(manager, {
        organizationId: actor.organizationId,
        actorPrincipalId: actor.principalId,
        action: 'createComputeBudget',
        objectId: created.id,
        before: null,
        after: auditView(created),
      });
      return Object.assign(created, { created: true });
    });
    return (await this.views(actor.organizationId, [budget]))[0];
  }

  async update(actor: Actor, id: string, input: UpdateComputeBudgetInput): Promise<ComputeBudget> {
    const budget = await this.changeInRedis(actor.organizationId, async (manager) => {
      const found = await this.lockOwn(manager, actor.organizationId, id);
      const before = auditView(found);
      if (input.name !== undefined && input.name !== null) {
        const name = requireText(input.name, 'input.name', { max: MAX_NAME });
        if (name !== found.name) await this.requireFreeName(manager, actor.organizationId, name);
        found.name = name;
      }
      if (input.limit !== undefined && input.limit !== null) {
        found.limitMicros = String(toMicros(requireNumber(input.limit, 'input.limit', { min: 0, max: MAX_BUDGET_LIMIT })));
      }
      const saved = await manager.save(ComputeBudgetEntity, found);
      await this.audit.record(manager, {
        organizationId: actor.organizationId,
        actorPrincipalId: actor.principalId,
        action: 'updateComputeBudget',
        objectId: id,
        before,
        after: auditView(saved),
      });
      return saved;
    });
    return (await this.views(actor.organizationId, [budget]))[0];
  }

  async remove(actor: Actor, id: string): Promise<boolean> {
    await this.changeInRedis(actor.organizationId, async (manager) => {
      const found = await this.lockOwn(manager, actor.organizationId, id);
      await manager.delete(ComputeBudgetEntity, { id: found.id });
      await this.audit.record(manager, {
        organizationId: actor.organizationId,
        actorPrincipalId: actor.principalId,
        action: 'deleteComputeBudget',
        objectId: id,
        before: auditView(found),
        after: null,
      });
      return { ...found, deleted: true };
    });
    this.metrics.forget(id);
    return true;
  }

  /**
   * The budgets a caller sees: ADMIN and VIEWER all of the organization's; a CLIENT those that
   * apply to it (the organization's, its team's, its own, and those of the work units its
   * principal created).
   */
  async list(auth: AuthContext): Promise<ComputeBudget[]> {
    const query = this.dataSource
      .getRepository(ComputeBudgetEntity)
      .createQueryBuilder('b')
      .where('b.organizationId = :organizationId', { organizationId: auth.organizationId });
    if (auth.role === 'CLIENT') {
      query.andWhere(
        `(b.scope = 'ORGANIZATION' OR (b.scope = 'TEAM' AND b.team = :team) OR (b.scope = 'PRINCIPAL' AND b.principalId = :principalId)
          OR (b.scope = 'WORK_UNIT' AND b.workUnitId IN (SELECT w.id FROM work_units w WHERE w.organization_id = :organizationId AND w.created_by_principal_id = :principalId)))`,
        { team: auth.team, principalId: auth.principalId },
      );
    }
    const budgets = await query.orderBy('b.createdAt', 'ASC').addOrderBy('b.id', 'ASC').getMany();
    return this.views(auth.organizationId, budgets);
  }

  /** The organization's budgets among these ids, with live figures (others' and malformed ids left out). */
  async byIds(organizationId: string, ids: string[]): Promise<ComputeBudget[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    const budgets = await this.dataSource
      .getRepository(ComputeBudgetEntity)
      .createQueryBuilder('b')
      .where('b.organizationId = :organizationId AND b.id IN (:...ids)', { organizationId, ids: valid })
      .getMany();
    return this.views(organizationId, budgets);
  }

  /** Live figures from Redis, rebuilt first when its state is not the database's. */
  async views(organizationId: string, budgets: ComputeBudgetEntity[]): Promise<ComputeBudget[]> {
    if (budgets.length === 0) return [];
    const periods = this.clock.periods();
    const ids = budgets.map((b) => b.id);
    let read = await this.readFigures(organizationId, periods, ids);
    const unknown = read.figures.some((f) => f.limit === null);
    const epoch = await this.epochs.current(organizationId);
    if (read.epoch === null || read.epoch !== epoch || unknown) {
      // A budget Redis does not know under the database's epoch missed its definition: rebuild.
      if (unknown && epoch !== null && read.epoch === epoch) await this.epochs.raise(organizationId, epoch);
      await this.state.ensureOrUnavailable(organizationId);
      read = await this.readFigures(organizationId, periods, ids);
      if (read.epoch === null) throw AppError.unavailable('The compute budgets are being restored; retry in a moment', 1);
    }
    return budgets.map((budget, i) => {
      const figures = read.figures[i];
      this.metrics.observeBudget(budget.id, Number(budget.limitMicros), figures.spent, figures.reserved);
      return toView(budget, periods, figures.spent, figures.reserved);
    });
  }

  private async readFigures(organizationId: string, periods: PeriodKeys, ids: string[]) {
    try {
      return await this.store.read(organizationId, periods, ids);
    } catch {
      throw AppError.unavailable('The compute budgets cannot be read now (Redis is unreachable); retry in a moment', 2);
    }
  }

  /**
   * A budget change: in one transaction with the organization's epoch share-locked, then told
   * to Redis under that epoch. A new budget instead raises the epoch and rebuilds the state:
   * what it spent this period so far (usage of its scope recorded before it existed) is read
   * from the ledger under the rebuild's exclusive lock, so no usage recorded meanwhile is
   * counted twice or missed. When Redis has another epoch (or none), or cannot be reached, it
   * is rebuilt too, which reads the change from the database.
   */
  private async changeInRedis(
    organizationId: string,
    change: (manager: EntityManager) => Promise<ComputeBudgetEntity & { deleted?: boolean; created?: boolean }>,
  ) {
    const { budget, epoch } = await this.dataSource.transaction(async (manager) => {
      const epoch = await this.epochs.sharedOrNew(manager, organizationId);
      return { budget: await change(manager), epoch };
    });
    const told =
      !budget.created &&
      (await this.store
        .define(
          organizationId,
          epoch,
          budget.deleted ? { op: 'del', budgetId: budget.id, subject: subjectOf(budget) } : { op: 'put', budget: definitionOf(budget) },
        )
        .catch(() => false));
    if (!told) {
      // The raised epoch makes the rebuild run even if Redis's epoch was the database's.
      await this.epochs.raise(organizationId, epoch);
      await this.state.ensureOrUnavailable(organizationId);
    }
    return budget;
  }

  private async subject(organizationId: string, input: CreateComputeBudgetInput): Promise<Pick<ComputeBudgetEntity, 'team' | 'principalId' | 'workUnitId'>> {
    const given = { team: input.team ?? null, principalId: input.principalId ?? null, workUnitId: input.workUnitId ?? null };
    const needs = { TEAM: 'team', PRINCIPAL: 'principalId', WORK_UNIT: 'workUnitId', ORGANIZATION: null } as const;
    for (const field of ['team', 'principalId', 'workUnitId'] as const) {
      if (given[field] !== null && needs[input.scope] !== field)
        throw AppError.badInput(
          `input.${field}`,
          `input.${field} is only for ${field === 'team' ? 'TEAM' : field === 'principalId' ? 'PRINCIPAL' : 'WORK_UNIT'} budgets`,
        );
    }
    const needed = needs[input.scope];
    if (needed && given[needed] === null) throw AppError.badInput(`input.${needed}`, `A ${input.scope} budget needs input.${needed}`);
    if (input.scope === 'TEAM') return { ...given, team: requireText(given.team!, 'input.team', { max: 200 }) };
    if (input.scope === 'PRINCIPAL') await this.principals.getInOrganization(organizationId, given.principalId!, 'input.principalId');
    if (input.scope === 'WORK_UNIT') await this.workUnits.getInOrganization(organizationId, given.workUnitId!, 'input.workUnitId');
    return given;
  }

  private async requireFreeName(manager: EntityManager, organizationId: string, name: string): Promise<void> {
    if (await manager.existsBy(ComputeBudgetEntity, { organizationId, name }))
      throw AppError.badInput('input.name', `A compute budget named "${name}" exists already`);
  }

  private async lockOwn(manager: EntityManager, organizationId: string, id: string): Promise<ComputeBudgetEntity> {
    const found = isUuid(id) ? await manager.findOne(ComputeBudgetEntity, { where: { id, organizationId }, lock: { mode: 'pessimistic_write' } }) : null;
    if (!found) throw new AppError('NOT_FOUND', `No compute budget with id ${id} in your organization`, { field: 'id' });
    return found;
  }
}

function auditView(budget: ComputeBudgetEntity) {
  return {
    name: budget.name,
    scope: budget.scope,
    team: budget.team,
    principalId: budget.principalId,
    workUnitId: budget.workUnitId,
    period: budget.period,
    limit: fromMicros(budget.limitMicros),
  };
}

function toView(budget: ComputeBudgetEntity, periods: PeriodKeys, spentMicros: number, reservedMicros: number): ComputeBudget {
  const limitMicros = Number(budget.limitMicros);
  return {
    id: budget.id,
    name: budget.name,
    scope: budget.scope as BudgetScope,
    team: budget.team,
    period: budget.period as BudgetPeriod,
    limit: fromMicros(limitMicros),
    spent: fromMicros(spentMicros),
    reserved: fromMicros(reservedMicros),
    remaining: fromMicros(Math.max(0, limitMicros - spentMicros - reservedMicros)),
    periodStart: periodBounds(periodKeyOf(budget.period, periods)).from,
    organizationId: budget.organizationId,
    principalId: budget.principalId,
    workUnitId: budget.workUnitId,
  };
}
