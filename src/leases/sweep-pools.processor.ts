import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { Job } from 'bullmq';
import { LeaseSweepService, SweepSummary } from './lease-sweep.service';
import { LEASE_MAINTENANCE_QUEUE, SweepPoolsPayload } from './sweep-pools.job';

// One sweep at a time per worker; BullMQ hands each scheduled run to one worker.
@Processor(LEASE_MAINTENANCE_QUEUE, { concurrency: 1 })
export class SweepPoolsProcessor extends WorkerHost {
  private readonly logger = new Logger(SweepPoolsProcessor.name);

  constructor(private readonly sweep: LeaseSweepService) {
    super();
  }

  async process(_job: Job<SweepPoolsPayload>): Promise<SweepSummary> {
    const summary = await this.sweep.sweepAll();
    if (summary.expired > 0 || summary.rebuilt > 0)
      this.logger.log(`Swept ${summary.pools} pools: ${summary.expired} leases expired, ${summary.rebuilt} pools rebuilt`);
    return summary;
  }
}
