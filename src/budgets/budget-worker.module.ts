import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { Inject, Module, OnModuleInit } from '@nestjs/common';
import { Queue } from 'bullmq';
import { ScheduleKeeper } from '../common/queues/schedule-keeper.service';
import { APP_CONFIG, AppConfig } from '../config/env';
import { BudgetMetricsService } from './budget-metrics.service';
import { BudgetEngineModule } from '../budget-engine/budget-engine.module';
import { BudgetSweepService } from './budget-sweep.service';
import { BUDGET_MAINTENANCE_QUEUE, SWEEP_BUDGETS_JOB, SweepBudgetsProcessor } from './sweep-budgets.processor';

/** The worker side of budgets: reservation expiry, the Redis state check and the budget gauges, every SWEEP_INTERVAL_MS. */
@Module({
  imports: [BullModule.registerQueue({ name: BUDGET_MAINTENANCE_QUEUE }), BudgetEngineModule],
  providers: [BudgetSweepService, SweepBudgetsProcessor, BudgetMetricsService],
})
export class BudgetWorkerModule implements OnModuleInit {
  constructor(
    @InjectQueue(BUDGET_MAINTENANCE_QUEUE) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keeper: ScheduleKeeper,
  ) {}

  onModuleInit(): void {
    this.keeper.keepSchedule({
      queue: this.queue,
      id: SWEEP_BUDGETS_JOB,
      everyMs: this.config.sweepIntervalMs,
      jobOptions: { attempts: 1, removeOnComplete: true, removeOnFail: 100 },
    });
  }
}
