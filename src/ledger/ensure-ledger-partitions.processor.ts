import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { Job } from 'bullmq';
import { EnsureLedgerPartitionsPayload, LEDGER_MAINTENANCE_QUEUE } from './ensure-ledger-partitions.job';
import { LedgerPartitionsService } from './ledger-partitions.service';

@Processor(LEDGER_MAINTENANCE_QUEUE, { concurrency: 1 })
export class EnsureLedgerPartitionsProcessor extends WorkerHost {
  private readonly logger = new Logger(EnsureLedgerPartitionsProcessor.name);

  constructor(private readonly partitions: LedgerPartitionsService) {
    super();
  }

  async process(_job: Job<EnsureLedgerPartitionsPayload>): Promise<number> {
    const created = await this.partitions.ensureAhead();
    if (created > 0) this.logger.log(`Created ${created} monthly ledger partitions`);
    return created;
  }
}
