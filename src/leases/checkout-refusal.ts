import { AppError } from '../common/errors/app-error';
import { QueueFull, Refused } from '../lease-engine/lease-store.types';

const retrySeconds = (retryAfterMs: number): number => Math.max(1, Math.ceil(retryAfterMs / 1000));

/** What a refused check-out answers; after a wait that ran out (waitedSeconds), QUEUE_TIMEOUT. */
export function refusalError(refusal: Refused, waitedSeconds: number | null): AppError {
  const retryAfterSeconds = retrySeconds(refusal.retryAfterMs);
  const extensions = { available: refusal.available, requested: refusal.requested, retryAfterSeconds, queueLength: refusal.queuedAhead };
  if (waitedSeconds !== null) {
    return new AppError(
      'QUEUE_TIMEOUT',
      `Waited ${waitedSeconds} s in the queue and ${refusal.requested} credits did not come free (${refusal.available} available to you, ${refusal.queuedAhead} requests ahead)`,
      extensions,
    );
  }
  if (refusal.neverFits) {
    const message =
      refusal.status === 'GROUP_LIMIT_REACHED'
        ? `This app needs ${refusal.requested} credits, more than your team's ceiling in this pool: no wait can serve it; ask an admin to raise the team's group limit`
        : `This app needs ${refusal.requested} credits, more than the pool's cap: no wait can serve it; ask an admin to raise the cap`;
    return new AppError(refusal.status, message, extensions);
  }
  const queued = refusal.queuedAhead > 0 ? ` behind ${refusal.queuedAhead} waiting requests` : '';
  const message =
    refusal.status === 'GROUP_LIMIT_REACHED'
      ? `Your team is at its ceiling in this pool: ${refusal.available} credits available to you, ${refusal.requested} requested; retry in about ${retryAfterSeconds} s or pass waitSeconds`
      : `Pool has ${refusal.available} credits available to you${queued}, ${refusal.requested} requested; retry in about ${retryAfterSeconds} s or pass waitSeconds`;
  return new AppError(refusal.status, message, extensions);
}

/** A waiting check-out that would pass a bound of the pool's fair queue: RATE_LIMITED, naming the bound. */
export function queueFullError(full: QueueFull): AppError {
  const retryAfterSeconds = retrySeconds(full.retryAfterMs);
  const message =
    full.bound === 'PRINCIPAL'
      ? `You already have ${full.limit} check-outs waiting in this pool's queue, the most one principal may have (QUEUE_MAX_PER_PRINCIPAL); retry in about ${retryAfterSeconds} s, once one of them is served or stops waiting`
      : `This pool's queue is full: ${full.limit} check-outs are waiting, the most one pool may have (QUEUE_MAX_PER_POOL); retry in about ${retryAfterSeconds} s`;
  return new AppError('RATE_LIMITED', message, { retryAfterSeconds, queueLength: full.queuedAhead });
}
