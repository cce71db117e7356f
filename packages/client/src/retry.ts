import { TokenpoolError } from './errors';

/**
 * When to try again. Only UNAVAILABLE (a dependency down, the server unreachable, a pool
 * being rebuilt) and RATE_LIMITED are worth a retry: the contract says both are safe to
 * retry, and every other code would be answered the same again. Delays grow exponentially
 * with "equal jitter" (half fixed, half random) so that many clients that lost the same
 * server do not come back in step, and never undercut the server's retryAfterSeconds.
 */

export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['UNAVAILABLE', 'RATE_LIMITED']);

export interface BackoffOptions {
  /** First delay, before jitter (default 200 ms). */
  baseMs?: number;
  /** Largest delay, before the server's retryAfterSeconds (default 5 s). */
  maxMs?: number;
  /** Random source in [0, 1), for tests. */
  random?: () => number;
}

export function isRetryable(err: unknown): err is TokenpoolError {
  return err instanceof TokenpoolError && RETRYABLE_CODES.has(err.code);
}

/** The delay before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, retryAfterSeconds?: number, options: BackoffOptions = {}): number {
  const { baseMs = 200, maxMs = 5_000, random = Math.random } = options;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  const jittered = ceiling / 2 + (random() * ceiling) / 2;
  if (retryAfterSeconds === undefined || !(retryAfterSeconds > 0)) return Math.round(jittered);
  // The server knows when it will be back: wait that long, plus a little spread.
  const server = retryAfterSeconds * 1000;
  return Math.round(Math.max(jittered, server + random() * Math.min(1_000, server * 0.2)));
}

export interface RetryOptions extends BackoffOptions {
  /** Absolute time (Date.now() scale) after which no new attempt starts; the last error is thrown. */
  deadline: number;
  /** Stops waiting and throws its reason. */
  signal?: AbortSignal;
  /** Which failures to retry (default isRetryable: UNAVAILABLE and RATE_LIMITED). */
  shouldRetry?: (err: TokenpoolError) => boolean;
}

/** Runs `attempt` until it succeeds, fails with a code not worth a retry, or the next try would start after the deadline. */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!isRetryable(err) || options.signal?.aborted || (options.shouldRetry && !options.shouldRetry(err))) throw err;
      const delay = backoffDelay(n, err.retryAfterSeconds, options);
      if (Date.now() + delay > options.deadline) throw err;
      await sleep(delay, options.signal);
    }
  }
}

/** A pause that a signal can cut short (rejecting with its reason); `unref` lets the process exit meanwhile. */
export function sleep(ms: number, signal?: AbortSignal, unref = false): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (unref) timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
