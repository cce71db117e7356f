import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { Inject, Module, OnModuleInit } from '@nestjs/common';
import { Queue } from 'bullmq';
import { ScheduleKeeper } from '../common/queues/schedule-keeper.service';
import { APP_CONFIG, AppConfig } from '../config/env';
import { REPORTS_QUEUE, ROLLUP_USAGE_JOB } from './rollup-usage.job';
import { RollupUsageProcessor } from './rollup-usage.processor';
import { UsageRollupsModule } from './usage-rollups.module';

/** The worker side of the reports: the periodic usage rollup. */
@Module({
  imports: [BullModule.registerQueue({ name: REPORTS_QUEUE }), UsageRollupsModule],
  providers: [RollupUsageProcessor],
})
export class ReportsWorkerModule implements OnModuleInit {
  constructor(
    @InjectQueue(REPORTS_QUEUE) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keeper: ScheduleKeeper,
  ) {}

  onModuleInit(): void {
    this.keeper.keepSchedule({
      queue: this.queue,
      id: ROLLUP_USAGE_JOB,
      everyMs: this.config.rollupIntervalSeconds * 1000,
      jobOptions: { attempts: 1, removeOnComplete: true, removeOnFail: 100 },
    });
  }
}
