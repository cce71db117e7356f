import { TokenpoolError } from './errors';
import { backoffDelay } from './retry';

/**
 * Automatic heartbeats for every lease a client holds, sent together.
 *
 * Each lease is due at a quarter of its length after its last successful heartbeat (so a
 * revocation is heard within a quarter, and three heartbeats can fail before it expires). On
 * each tick the scheduler sends every lease that is due *or will be within half its interval*
 * in `heartbeats` calls of at most 500 ids: heartbeating a lease a little early costs
 * nothing, and it puts leases checked out at different moments on one shared rhythm within an
 * interval, so a client holding 1,000 leases of one length sends two requests per interval,
 * not one per lease. Leases that asked for fresh proofs go in calls of their own that select
 * `proof` (the server signs one JWT per lease per heartbeat, which costs); the others never
 * select it. Leases marked idle (lease.setIdle) go in calls with `idle: true` (the flag is
 * per call), so a client mixing both kinds sends up to four calls per 500 leases a round.
 *
 * A failed call (network, UNAVAILABLE, RATE_LIMITED, anything) does not wait for the next
 * quarter: its leases are tried again after a short backoff (250 ms doubling, at most half an
 * interval, never before the server's retryAfterSeconds). A lease is lost when the server says
 * it ended (LEASE_NOT_ACTIVE with its state, or NOT_FOUND) or when no heartbeat succeeded
 * before its expiry measured on the local clock: the local time at which the last successful
 * heartbeat was *sent* plus the lease's length. The server set its expiry after it received
 * that request, so the local deadline is never later than the server's, whatever the skew
 * between the two clocks. Then the lease's signal aborts with LEASE_LOST.
 *
 * The timer is referenced while leases are held: a process holding a lease stays alive to
 * keep it (release the lease or close the client to let it exit). With no lease, no timer.
 */

export const MAX_HEARTBEATS_PER_CALL = 500;

/** What the scheduler needs of a lease; the Lease class implements it. */
export interface HeartbeatSubject {
  readonly id: string;
  /** Select `proof` in this lease's heartbeats (the lease's proof is kept fresh). */
  readonly refreshProof: boolean;
  /** Report the lease's user as idle (heartbeats(idle: true)), for the draws' idle time. */
  readonly idle: boolean;
  /** A heartbeat succeeded: the lease's new fields. */
  heartbeatSucceeded(lease: HeartbeatLease): void;
  /** The lease is lost: abort its signal with this reason. */
  lost(reason: TokenpoolError): void;
}

export interface HeartbeatLease {
  id: string;
  expiresAt: string;
  leaseSeconds: number;
  proof?: string | null;
}

export interface HeartbeatResultItem {
  leaseId: string;
  code: string | null;
  state: string | null;
  lease: HeartbeatLease | null;
}

/** Sends one `heartbeats` call; rejects when the call as a whole failed. */
export type SendHeartbeats = (leaseIds: string[], options: { withProof: boolean; idle: boolean; timeoutMs: number }) => Promise<HeartbeatResultItem[]>;

export interface HeartbeatEntry {
  subject: HeartbeatSubject;
  /** A quarter of the lease's length, in ms. */
  intervalMs: number;
  leaseMs: number;
  /** Local time at which the lease should be heartbeated next. */
  nextDueAt: number;
  /** Local time by which a heartbeat must have succeeded (see above). */
  localExpiresAt: number;
  inFlight: boolean;
  failures: number;
  lastError?: unknown;
}

export interface PlannedBatch {
  withProof: boolean;
  idle: boolean;
  entries: HeartbeatEntry[];
}

/**
 * The calls to send now: nothing unless some lease is due; then every lease not already in a
 * call that is due within half its interval, split by whether it selects the proof and whether
 * it reports the user idle, in chunks of at most `max`.
 */
export function planBatches(entries: Iterable<HeartbeatEntry>, now: number, max = MAX_HEARTBEATS_PER_CALL): PlannedBatch[] {
  const idle = [...entries].filter((e) => !e.inFlight);
  if (!idle.some((e) => e.nextDueAt <= now)) return [];
  const chosen = idle.filter((e) => e.nextDueAt <= now + e.intervalMs / 2);
  const batches: PlannedBatch[] = [];
  for (const withProof of [false, true]) {
    for (const idle of [false, true]) {
      const group = chosen.filter((e) => e.subject.refreshProof === withProof && e.subject.idle === idle);
      for (let i = 0; i < group.length; i += max) batches.push({ withProof, idle, entries: group.slice(i, i + max) });
    }
  }
  return batches;
}

/** When the scheduler must wake next: the earliest due time of a lease not in a call, or the earliest local expiry. */
export function nextWakeAt(entries: Iterable<HeartbeatEntry>): number | undefined {
  let at: number | undefined;
  for (const e of entries) {
    const t = e.inFlight ? e.localExpiresAt : Math.min(e.nextDueAt, e.localExpiresAt);
    if (at === undefined || t < at) at = t;
  }
  return at;
}

export interface HeartbeaterOptions {
  send: SendHeartbeats;
  now?: () => number;
  random?: () => number;
}

export class Heartbeater {
  readonly #entries = new Map<string, HeartbeatEntry>();
  readonly #send: SendHeartbeats;
  readonly #now: () => number;
  readonly #random: () => number;
  #timer: NodeJS.Timeout | undefined;
  #wakeAt: number | undefined;
  #closed = false;

  constructor(options: HeartbeaterOptions) {
    this.#send = options.send;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Starts heartbeating a lease. `sentAt` is the local time its check-out request was sent,
   * the start of its local expiry (see above). A check-out whose retries took so long that a
   * quarter has passed is heartbeated at once, and given at least half its length (at most
   * 5 s) for that heartbeat to answer before it counts as lost.
   */
  add(subject: HeartbeatSubject, leaseSeconds: number, sentAt: number): void {
    if (this.#closed) return;
    const now = this.#now();
    const leaseMs = leaseSeconds * 1000;
    const intervalMs = leaseMs / 4;
    this.#entries.set(subject.id, {
      subject,
      leaseMs,
      intervalMs,
      nextDueAt: sentAt + intervalMs, // in the past after a slow check-out: at the next tick
      localExpiresAt: Math.max(sentAt + leaseMs, now + Math.min(leaseMs / 2, 5_000)),
      inFlight: false,
      failures: 0,
    });
    this.#schedule();
  }

  /** Stops heartbeating a lease (released or lost); an answer still in flight for it is ignored. */
  remove(id: string): void {
    this.#entries.delete(id);
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    this.#entries.clear();
    this.#schedule();
  }

  #schedule(): void {
    const at = this.#closed ? undefined : nextWakeAt(this.#entries.values());
    if (at === this.#wakeAt && this.#timer) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wakeAt = at;
    if (at === undefined) return;
    this.#timer = setTimeout(() => this.#tick(), Math.max(10, at - this.#now()));
  }

  #tick(): void {
    this.#timer = undefined;
    this.#wakeAt = undefined;
    const now = this.#now();
    for (const entry of [...this.#entries.values()]) {
      if (entry.localExpiresAt <= now) this.#lose(entry, leaseLost(entry));
    }
    for (const batch of planBatches(this.#entries.values(), now)) void this.#run(batch, now);
    this.#schedule();
  }

  async #run(batch: PlannedBatch, sentAt: number): Promise<void> {
    for (const e of batch.entries) e.inFlight = true;
    // A slow server gets at least 5 s (a quarter of a long lease, up to 15 s) to answer a big
    // batch; a call that hangs still fails by half the shortest lease, in time for a retry.
    const shortest = Math.min(...batch.entries.map((e) => e.leaseMs));
    const timeoutMs = Math.min(15_000, shortest / 2, Math.max(5_000, shortest / 4));
    let results: HeartbeatResultItem[] | undefined;
    let failure: unknown;
    try {
      results = await this.#send(
        batch.entries.map((e) => e.subject.id),
        { withProof: batch.withProof, idle: batch.idle, timeoutMs },
      );
    } catch (err) {
      failure = err;
    }
    const byId = new Map((results ?? []).map((r) => [r.leaseId, r]));
    // One delay for the whole failed part of the batch, so its leases stay together.
    let retryAt: number | undefined;
    const retryLater = (entry: HeartbeatEntry, err: unknown) => {
      entry.failures++;
      entry.lastError = err;
      if (retryAt === undefined) {
        const retryAfter = err instanceof TokenpoolError ? err.retryAfterSeconds : undefined;
        retryAt = this.#now() + backoffDelay(entry.failures - 1, retryAfter, { baseMs: 250, maxMs: Math.max(250, entry.intervalMs / 2), random: this.#random });
      }
      entry.nextDueAt = retryAt;
    };
    for (const entry of batch.entries) {
      entry.inFlight = false;
      if (this.#entries.get(entry.subject.id) !== entry) continue; // released or lost meanwhile
      const result = byId.get(entry.subject.id);
      if (failure !== undefined || !result) {
        retryLater(entry, failure ?? new TokenpoolError('UNAVAILABLE', `no heartbeat answer for lease ${entry.subject.id}`));
      } else if (result.code === null && result.lease) {
        entry.failures = 0;
        entry.lastError = undefined;
        entry.leaseMs = result.lease.leaseSeconds * 1000;
        entry.intervalMs = entry.leaseMs / 4;
        entry.nextDueAt = sentAt + entry.intervalMs;
        entry.localExpiresAt = sentAt + entry.leaseMs;
        entry.subject.heartbeatSucceeded(result.lease);
      } else if (result.code === 'LEASE_NOT_ACTIVE' || result.code === 'NOT_FOUND') {
        const how = result.state ? ` (${result.state})` : '';
        const message = result.code === 'NOT_FOUND' ? `lease ${entry.subject.id} was not found` : `lease ${entry.subject.id} has ended${how}`;
        this.#lose(entry, new TokenpoolError(result.code, message, { extensions: result.state ? { state: result.state } : {} }));
      } else {
        retryLater(entry, new TokenpoolError(result.code ?? 'UNAVAILABLE', `heartbeat of lease ${entry.subject.id} answered ${result.code ?? 'no lease'}`));
      }
    }
    this.#schedule();
  }

  #lose(entry: HeartbeatEntry, reason: TokenpoolError): void {
    this.#entries.delete(entry.subject.id);
    entry.subject.lost(reason);
  }
}

function leaseLost(entry: HeartbeatEntry): TokenpoolError {
  return new TokenpoolError('LEASE_LOST', `lease ${entry.subject.id} could not be heartbeated before it expired; it is no longer held`, {
    cause: entry.lastError,
  });
}
