import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { BudgetSweepService, BudgetSweepSummary } from './budget-sweep.service';

/** The worker's periodic budget maintenance: one repeatable job. */
export const BUDGET_MAINTENANCE_QUEUE = 'budget-maintenance';
export const SWEEP_BUDGETS_JOB = 'sweep-budgets';

// One sweep at a time per worker; BullMQ hands each scheduled run to one worker.
@Processor(BUDGET_MAINTENANCE_QUEUE, { concurrency: 1 })
export class SweepBudgetsProcessor extends WorkerHost {
  private readonly logger = new Logger(SweepBudgetsProcessor.name);

  constructor(private readonly sweep: BudgetSweepService) {
    super();
  }

  async process(): Promise<BudgetSweepSummary> {
    const summary = await this.sweep.sweep();
    if (summary.expired > 0 || summary.rebuilt > 0)
      this.logger.log(`Budget sweep: ${summary.expired} reservations expired, ${summary.rebuilt} organizations rebuilt`);
    return summary;
  }
}
