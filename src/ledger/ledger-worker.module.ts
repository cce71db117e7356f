import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { Module, OnModuleInit } from '@nestjs/common';
import { Queue } from 'bullmq';
import { ScheduleKeeper } from '../common/queues/schedule-keeper.service';
import { ENSURE_LEDGER_PARTITIONS_EVERY_MS, ENSURE_LEDGER_PARTITIONS_JOB, LEDGER_MAINTENANCE_QUEUE } from './ensure-ledger-partitions.job';
import { EnsureLedgerPartitionsProcessor } from './ensure-ledger-partitions.processor';
import { LedgerPartitionsService } from './ledger-partitions.service';

/** The worker side of the ledger: monthly partitions created ahead. */
@Module({
  imports: [BullModule.registerQueue({ name: LEDGER_MAINTENANCE_QUEUE })],
  providers: [LedgerPartitionsService, EnsureLedgerPartitionsProcessor],
})
export class LedgerWorkerModule implements OnModuleInit {
  constructor(
    @InjectQueue(LEDGER_MAINTENANCE_QUEUE) private readonly queue: Queue,
    private readonly keeper: ScheduleKeeper,
  ) {}

  /** BullMQ runs an `every` job at once when its scheduler is (re)created, then every six hours. */
  onModuleInit(): void {
    this.keeper.keepSchedule({
      queue: this.queue,
      id: ENSURE_LEDGER_PARTITIONS_JOB,
      everyMs: ENSURE_LEDGER_PARTITIONS_EVERY_MS,
      jobOptions: { removeOnComplete: true, removeOnFail: 100 },
    });
  }
}
