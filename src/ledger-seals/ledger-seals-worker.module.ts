import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { Inject, Module, OnModuleInit } from '@nestjs/common';
import { Queue } from 'bullmq';
import { ScheduleKeeper } from '../common/queues/schedule-keeper.service';
import { APP_CONFIG, AppConfig } from '../config/env';
import { LEDGER_SEALS_QUEUE, LedgerSealJobsProcessor, SEAL_LEDGERS_JOB, VERIFY_LEDGER_SEALS_JOB } from './ledger-seal-jobs.processor';
import { LedgerSealMetricsService } from './ledger-seal-metrics.service';
import { LedgerSealsModule } from './ledger-seals.module';

const DAY_MS = 86_400_000;

/** The worker side of the sealed ledger: a seal of every organization's new rows every LEDGER_SEAL_INTERVAL_SECONDS, and a daily check of the last day's seals. */
@Module({
  imports: [BullModule.registerQueue({ name: LEDGER_SEALS_QUEUE }), LedgerSealsModule],
  providers: [LedgerSealJobsProcessor, LedgerSealMetricsService],
})
export class LedgerSealsWorkerModule implements OnModuleInit {
  constructor(
    @InjectQueue(LEDGER_SEALS_QUEUE) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keeper: ScheduleKeeper,
  ) {}

  onModuleInit(): void {
    const jobOptions = { attempts: 1, removeOnComplete: true, removeOnFail: 100 };
    // 0: sealing only on demand (sealLedger), e.g. by an outside scheduler.
    if (this.config.ledgerSealIntervalSeconds > 0) {
      this.keeper.keepSchedule({ queue: this.queue, id: SEAL_LEDGERS_JOB, everyMs: this.config.ledgerSealIntervalSeconds * 1000, jobOptions });
    }
    this.keeper.keepSchedule({ queue: this.queue, id: VERIFY_LEDGER_SEALS_JOB, everyMs: DAY_MS, jobOptions });
  }
}
