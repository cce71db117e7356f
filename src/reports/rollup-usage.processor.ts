import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { Job } from 'bullmq';
import { REPORTS_QUEUE, RollupUsagePayload } from './rollup-usage.job';
import { RollupSummary, UsageRollupsService } from './usage-rollups.service';

// One run at a time per worker; BullMQ hands each scheduled run to one worker, and a
// per-pool advisory lock keeps a run and an import's refresh from interleaving.
@Processor(REPORTS_QUEUE, { concurrency: 1 })
export class RollupUsageProcessor extends WorkerHost {
  private readonly logger = new Logger(RollupUsageProcessor.name);

  constructor(private readonly rollups: UsageRollupsService) {
    super();
  }

  async process(_job: Job<RollupUsagePayload>): Promise<RollupSummary> {
    const summary = await this.rollups.rollAll();
    if (summary.hours > 0) this.logger.log(`Rolled up ${summary.hours} pool-hours over ${summary.pools} pools`);
    return summary;
  }
}
