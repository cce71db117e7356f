import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { LedgerSealMetricsService } from './ledger-seal-metrics.service';
import { LedgerSealsService } from './ledger-seals.service';

export const LEDGER_SEALS_QUEUE = 'ledger-seals';
export const SEAL_LEDGERS_JOB = 'seal-ledgers';
export const VERIFY_LEDGER_SEALS_JOB = 'verify-ledger-seals';
/** The daily check looks at the seals made in this window (a little more than its interval, so none is skipped). */
export const VERIFY_WINDOW_MS = 26 * 3_600_000;

/** The worker's seal jobs: seal every organization's new rows, and check the last day's seals daily. */
@Processor(LEDGER_SEALS_QUEUE, { concurrency: 1 })
export class LedgerSealJobsProcessor extends WorkerHost {
  private readonly logger = new Logger(LedgerSealJobsProcessor.name);

  constructor(
    private readonly seals: LedgerSealsService,
    private readonly metrics: LedgerSealMetricsService,
  ) {
    super();
  }

  async process(job: Job): Promise<number> {
    if (job.name === VERIFY_LEDGER_SEALS_JOB) return this.verifyRecent(new Date(Date.now() - VERIFY_WINDOW_MS));
    const sealed = await this.seals.sealAll();
    this.metrics.seals.inc(sealed);
    return sealed;
  }

  /** Checks the seals made since `since` (from the seal before them), per organization; returns how many organizations had a break. */
  async verifyRecent(since: Date): Promise<number> {
    let brokenCount = 0;
    for (const { organizationId, fromSequence } of await this.seals.organizationsSealedSince(since)) {
      try {
        const result = await this.seals.verify(organizationId, { fromSequence });
        this.metrics.broken.set({ organization: organizationId }, result.ok ? 0 : 1);
        this.metrics.verifications.inc({ result: result.ok ? 'ok' : 'broken' });
        if (!result.ok) {
          brokenCount += 1;
          this.logger.error(
            `The ledger of organization ${organizationId} no longer matches its seal ${result.firstBrokenSeal} (${result.reason}): a row or a seal was changed, deleted or added outside tokenpool`,
          );
        }
      } catch (err) {
        this.metrics.verifications.inc({ result: 'failed' });
        this.logger.error(`Could not check the ledger seals of organization ${organizationId}: ${(err as Error).message}`);
      }
    }
    return brokenCount;
  }
}
