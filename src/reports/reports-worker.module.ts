import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { Inject, Module, OnApplicationBootstrap } from '@nestjs/common';
import { Queue } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../config/env';
import { REPORTS_QUEUE, ROLLUP_USAGE_JOB } from './rollup-usage.job';
import { RollupUsageProcessor } from './rollup-usage.processor';
import { UsageRollupsModule } from './usage-rollups.module';

/** The worker side of the reports: the periodic usage rollup. */
@Module({
  imports: [BullModule.registerQueue({ name: REPORTS_QUEUE }), UsageRollupsModule],
  providers: [RollupUsageProcessor],
})
export class ReportsWorkerModule implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(REPORTS_QUEUE) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Idempotent: every worker upserts the same scheduler, so there is one schedule however many run. */
  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(
      ROLLUP_USAGE_JOB,
      { every: this.config.rollupIntervalSeconds * 1000 },
      { name: ROLLUP_USAGE_JOB, opts: { attempts: 1, removeOnComplete: true, removeOnFail: 100 } },
    );
  }
}
