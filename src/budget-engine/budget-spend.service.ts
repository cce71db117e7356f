import { Injectable, Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { budgetSubjects, BudgetStore, ChargeEvent, periodKeys } from '../lease-engine/budget-store';
import { BudgetEpochs } from './budget-epochs';

/** Money as the budgets count it: integer micro-units of the currency. */
export function toMicros(amount: number): number {
  return Math.round(amount * 1_000_000);
}

export function fromMicros(micros: number | string): number {
  return Number(micros) / 1_000_000;
}

/** One compute row just written to the ledger, as the budgets see it. */
export interface RecordedUsage {
  /** Micro-units, as PostgreSQL rounded the row's cost (null: unpriced). */
  costMicros: number | null;
  occurredAt: Date;
  workUnitId: string | null;
}

export interface UsageCaller {
  organizationId: string;
  principalId: string;
  team: string | null;
}

/**
 * Usage recorded without a reservation (recordComputeUsage, OTLP) counts into `spent` of the
 * budgets it falls under, so a budget shows all spend. The ledger write reads the epoch
 * (`epochFor`, in its transaction); after its commit, `charge` adds the costs in Redis.
 */
@Injectable()
export class BudgetSpendService {
  private readonly logger = new Logger(BudgetSpendService.name);

  constructor(
    private readonly store: BudgetStore,
    private readonly epochs: BudgetEpochs,
  ) {}

  /** Call in the ledger write's transaction; null: the organization has no budget state (nothing to charge). */
  epochFor(manager: EntityManager, organizationId: string): Promise<string | null> {
    return this.epochs.shared(manager, organizationId);
  }

  /**
   * Adds the costs to the budgets in Redis. Never fails the caller, whose usage is recorded:
   * when Redis cannot take it, the epoch is raised so the next use of the budgets rebuilds
   * them from the ledger, this usage included.
   */
  async charge(caller: UsageCaller, epoch: string | null, usage: RecordedUsage[]): Promise<void> {
    await this.chargeEach(
      caller.organizationId,
      epoch,
      usage.map((u) => ({ ...u, principalId: caller.principalId, team: caller.team })),
    );
  }

  /** As charge, for usage of several principals (the correction rows a backdated price writes). */
  async chargeEach(organizationId: string, epoch: string | null, usage: (RecordedUsage & Omit<UsageCaller, 'organizationId'>)[]): Promise<void> {
    if (epoch === null) return;
    const events: ChargeEvent[] = usage
      .filter((u) => u.costMicros !== null && u.costMicros > 0)
      .map((u) => ({
        cost: u.costMicros!,
        periods: periodKeys(u.occurredAt.getTime()),
        subjects: budgetSubjects({ principalId: u.principalId, team: u.team, workUnitId: u.workUnitId }),
      }));
    if (events.length === 0) return;
    try {
      await this.store.charge(organizationId, epoch, events);
    } catch (err) {
      this.logger.warn(`Compute usage of organization ${organizationId} not charged to its budgets in Redis (${(err as Error).message}); they will be rebuilt`);
      await this.epochs.raise(organizationId, epoch).catch(() => undefined);
    }
  }
}
