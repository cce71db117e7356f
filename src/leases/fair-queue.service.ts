import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { PoolEventsService } from '../pools/pool-events.service';
import { LeaseMetricsService } from './lease-metrics.service';
import { LeaseStore } from '../lease-engine/lease-store';
import { CheckoutResult } from '../lease-engine/lease-store.types';

// A waiter that has not tried for this long loses its place (its process died, or hangs).
const TICKET_TTL_MS = 5000;
// A waiter tries again on every change of its pool this process hears of, and at least this often.
const RETRY_EVERY_MS = 1000;

export interface WaitInput {
  poolId: string;
  /** The check-out's lease id: its ticket in the pool's queue. */
  leaseId: string;
  /** The holder, whose waiting check-outs the queue counts (QUEUE_MAX_PER_PRINCIPAL). */
  principalId: string;
  waitMs: number;
  /** Aborts when the client goes away. */
  signal?: AbortSignal;
}

export interface WaitOutcome {
  result: CheckoutResult;
  /** Still refused when the wait ran out (not when the client went away first). */
  timedOut: boolean;
}

/**
 * The waiting half of the fair queue (the deciding half is in the check-out Lua: a request
 * is granted only from what the live tickets ahead of it do not wait for). A waiting
 * check-out keeps its ticket alive by trying again, on every change of its pool and at least
 * every second, until it is granted, its wait runs out, its client disconnects or the
 * process shuts down; it leaves the queue in every case but a grant (which the Lua does).
 * The Lua answers at once, without queueing, a request that no wait can serve (neverFits)
 * or that would pass a bound of the queue (QUEUE_FULL). Only a shutdown throws; the caller
 * answers (and records) every other refusal.
 */
@Injectable()
export class FairQueueService implements OnModuleDestroy {
  private readonly logger = new Logger(FairQueueService.name);
  private readonly shutdown = new AbortController();

  constructor(
    private readonly store: LeaseStore,
    private readonly events: PoolEventsService,
    private readonly metrics: LeaseMetricsService,
  ) {}

  /** `attempt(ticketTtlMs)` runs one check-out that queues on refusal for ticketTtlMs. */
  async waitForCredits(input: WaitInput, attempt: (ticketTtlMs: number) => Promise<CheckoutResult>): Promise<WaitOutcome> {
    const signal = input.signal ? AbortSignal.any([input.signal, this.shutdown.signal]) : this.shutdown.signal;
    const deadline = Date.now() + input.waitMs;
    this.metrics.waiting.inc({ pool: input.poolId });
    let granted = false;
    try {
      for (;;) {
        const result = await attempt(TICKET_TTL_MS);
        if (result.status !== 'POOL_EXHAUSTED' && result.status !== 'GROUP_LIMIT_REACHED') {
          granted = result.status === 'GRANTED';
          return { result, timedOut: false };
        }
        // Above the cap or the team's ceiling: no wait helps, and it was never queued.
        if (result.neverFits) return { result, timedOut: false };
        // A client that gave up was refused all the while it waited (its caller records the
        // denial); a shutdown is no answer about credits: the client retries elsewhere.
        if (input.signal?.aborted) return { result, timedOut: false };
        if (signal.aborted) throw AppError.unavailable('The request stopped waiting: the server is shutting down; retry', 1);
        const left = deadline - Date.now();
        if (left <= 0) return { result, timedOut: true };
        await this.events.nextChange(input.poolId, Math.min(left, RETRY_EVERY_MS), signal);
      }
    } finally {
      this.metrics.waiting.dec({ pool: input.poolId });
      if (!granted) await this.leave(input);
    }
  }

  /** Wakes every waiter of this process so that it leaves the queue before the process exits. */
  onModuleDestroy(): void {
    this.shutdown.abort();
  }

  private async leave({ poolId, leaseId, principalId }: WaitInput): Promise<void> {
    await this.store.leaveQueue({ poolId, leaseId, principalId }).catch((err: Error) => {
      this.logger.warn(`Could not leave the queue of pool ${poolId}; the ticket lapses in ${TICKET_TTL_MS} ms (${err.message})`);
    });
  }
}
