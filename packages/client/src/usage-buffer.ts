import { randomUUID } from 'node:crypto';
import { TokenpoolError } from './errors';
import type { ComputeUsageInput } from './generated/graphql';
import { backoffDelay, isRetryable, sleep } from './retry';

/**
 * Buffers compute-usage events and sends them through recordComputeUsage in batches of up to
 * 1,000, at least every second. Each event gets its eventId when it is buffered (unless the
 * caller gave one), so a batch that failed, or whose answer was lost with the connection, is
 * sent again with the same ids and the ledger counts each event once: nothing is lost and
 * nothing is counted twice. A batch that fails is retried with backoff for as long as the
 * client lives; flushUsage() and close() wait for the buffer to drain, up to a deadline.
 *
 * The server takes a batch all or nothing: when it refuses one event (BAD_USER_INPUT with
 * field `events[i].…`), that event alone is dropped and reported through `onError`, and the
 * rest go again. The flush timer is unref'd: it never keeps a process alive by itself, so call
 * flushUsage() or close() before exiting.
 */

export const MAX_USAGE_BATCH = 1_000;

/** A compute event as recordUsage takes it: ComputeUsageInput with occurredAt (default now) and eventId (default a random UUID) optional. */
export type ComputeUsageEvent = Omit<ComputeUsageInput, 'eventId' | 'occurredAt'> & { eventId?: string; occurredAt?: Date | string };

export interface UsageBufferOptions {
  send: (events: ComputeUsageInput[]) => Promise<unknown>;
  onError: (err: TokenpoolError) => void;
  intervalMs?: number;
  maxBatch?: number;
}

export class UsageBuffer {
  readonly #pending: ComputeUsageInput[] = [];
  readonly #send: UsageBufferOptions['send'];
  readonly #onError: UsageBufferOptions['onError'];
  readonly #intervalMs: number;
  readonly #maxBatch: number;
  #timer: NodeJS.Timeout | undefined;
  #pumping: Promise<void> | undefined;
  #flushers = 0;
  #drainedWaiters: (() => void)[] = [];
  readonly #stop = new AbortController();

  constructor(options: UsageBufferOptions) {
    this.#send = options.send;
    this.#onError = options.onError;
    this.#intervalMs = options.intervalMs ?? 1_000;
    this.#maxBatch = options.maxBatch ?? MAX_USAGE_BATCH;
  }

  /** Events buffered and not yet acknowledged by the server. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Buffers one event; returns its eventId. */
  add(event: ComputeUsageEvent): string {
    const eventId = event.eventId ?? randomUUID();
    const occurredAt = event.occurredAt === undefined ? new Date().toISOString() : new Date(event.occurredAt).toISOString();
    this.#pending.push({ ...event, eventId, occurredAt });
    if (this.#pending.length >= this.#maxBatch) void this.#pump();
    else this.#arm();
    return eventId;
  }

  /** Resolves once every event buffered so far has been acknowledged; rejects with UNAVAILABLE at `deadline` (the events stay buffered). */
  async flush(deadline: number): Promise<void> {
    if (this.#pending.length === 0 && !this.#pumping) return;
    this.#flushers++;
    try {
      const drained = new Promise<void>((resolve) => this.#drainedWaiters.push(resolve));
      void this.#pump();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new TokenpoolError('UNAVAILABLE', `${this.#pending.length} compute usage events could not be sent before the deadline; they stay buffered`)),
          Math.max(0, deadline - Date.now()),
        );
      });
      try {
        await Promise.race([drained, late]);
      } finally {
        clearTimeout(timer);
      }
    } finally {
      this.#flushers--;
    }
  }

  /** Stops sending (after a final flush by the caller); events still buffered are dropped. */
  stop(): void {
    this.#stop.abort();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#timer || this.#pumping || this.#stop.signal.aborted) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#pump();
    }, this.#intervalMs);
    this.#timer.unref();
  }

  #pump(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pumping ??= this.#drain().finally(() => {
      this.#pumping = undefined;
      if (this.#pending.length === 0) {
        const waiters = this.#drainedWaiters;
        this.#drainedWaiters = [];
        for (const resolve of waiters) resolve();
      } else if (this.#flushers > 0) void this.#pump();
      else this.#arm();
    });
    return this.#pumping;
  }

  /** Sends batches until the buffer holds less than a batch and nobody waits for a flush. */
  async #drain(): Promise<void> {
    let failures = 0;
    let first = true;
    while (this.#pending.length > 0 && !this.#stop.signal.aborted && (first || this.#flushers > 0 || this.#pending.length >= this.#maxBatch)) {
      first = false;
      const batch = this.#pending.slice(0, this.#maxBatch);
      try {
        await this.#send(batch);
        this.#pending.splice(0, batch.length);
        failures = 0;
      } catch (err) {
        const refused = err instanceof TokenpoolError && err.code === 'BAD_USER_INPUT' ? /^events\[(\d+)\]/.exec(err.field ?? '') : null;
        if (refused && Number(refused[1]) < batch.length) {
          // The server named the one bad event: drop it, send the rest again at once.
          this.#pending.splice(Number(refused[1]), 1);
          this.#onError(err as TokenpoolError);
          continue;
        }
        if (err instanceof TokenpoolError && err.code === 'BAD_USER_INPUT') {
          this.#pending.splice(0, batch.length);
          this.#onError(err);
          continue;
        }
        if (!isRetryable(err)) this.#onError(err instanceof TokenpoolError ? err : new TokenpoolError('INTERNAL_SERVER_ERROR', String(err), { cause: err }));
        const retryAfter = err instanceof TokenpoolError ? err.retryAfterSeconds : undefined;
        try {
          await sleep(backoffDelay(failures++, retryAfter, { baseMs: 250, maxMs: isRetryable(err) ? 5_000 : 30_000 }), this.#stop.signal, true);
        } catch {
          return;
        }
        first = true; // the failed batch goes again whoever waits
      }
    }
  }
}
