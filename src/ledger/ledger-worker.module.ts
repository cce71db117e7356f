import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { Module, OnApplicationBootstrap } from '@nestjs/common';
import { Queue } from 'bullmq';
import { ENSURE_LEDGER_PARTITIONS_EVERY_MS, ENSURE_LEDGER_PARTITIONS_JOB, LEDGER_MAINTENANCE_QUEUE } from './ensure-ledger-partitions.job';
import { EnsureLedgerPartitionsProcessor } from './ensure-ledger-partitions.processor';
import { LedgerPartitionsService } from './ledger-partitions.service';

/** The worker side of the ledger: monthly partitions created ahead. */
@Module({
  imports: [BullModule.registerQueue({ name: LEDGER_MAINTENANCE_QUEUE })],
  providers: [LedgerPartitionsService, EnsureLedgerPartitionsProcessor],
})
export class LedgerWorkerModule implements OnApplicationBootstrap {
  constructor(@InjectQueue(LEDGER_MAINTENANCE_QUEUE) private readonly queue: Queue) {}

  /** Idempotent: every worker upserts the same scheduler; BullMQ runs an `every` job at once, then every six hours. */
  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(
      ENSURE_LEDGER_PARTITIONS_JOB,
      { every: ENSURE_LEDGER_PARTITIONS_EVERY_MS },
      { name: ENSURE_LEDGER_PARTITIONS_JOB, opts: { removeOnComplete: true, removeOnFail: 100 } },
    );
  }
}
