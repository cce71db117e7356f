import { TokenpoolError } from './errors';
import type { HeartbeatLease, HeartbeatSubject } from './heartbeats';

/**
 * A lease the client holds: its fields as the server granted them (expiresAt and proof move
 * with each heartbeat), a signal that aborts when the lease is lost, and release().
 *
 * `signal` aborts, with a TokenpoolError as its reason, when the lease is lost without the
 * holder releasing it:
 * - LEASE_NOT_ACTIVE, with `state` REVOKED, EXPIRED or RELEASED: a heartbeat found it ended
 *   (an admin revoked it, or it was checked in elsewhere);
 * - NOT_FOUND: a heartbeat found no such lease (the key no longer sees it);
 * - LEASE_LOST: no heartbeat succeeded before it expired on the local clock (the server stayed
 *   unreachable or kept refusing the call); the error's `cause` is the last failure.
 * release() and close() do not abort it: the work is over by then.
 */

export type LeaseListener = (lease: Lease) => void;

export interface LeaseInit {
  id: string;
  poolId: string;
  app: string;
  credits: number;
  fencingToken: string;
  proof: string | null;
  expiresAt: string;
  acquiredAt: string;
  leaseSeconds: number;
  host: string | null;
  workUnitId: string | null;
  refreshProof: boolean;
}

/** What a lease needs of its client: the check-in and leaving the heartbeats. */
export interface LeaseOwner {
  checkin(lease: Lease): Promise<void>;
  forget(lease: Lease): void;
}

export class Lease implements HeartbeatSubject {
  readonly id: string;
  readonly poolId: string;
  /** The app's key, as checked out. */
  readonly app: string;
  readonly credits: number;
  /** Decimal integer, strictly rising per pool: compare as BigInt, never as a number. */
  readonly fencingToken: string;
  readonly acquiredAt: Date;
  readonly host: string | null;
  readonly workUnitId: string | null;
  readonly refreshProof: boolean;
  #idle = false;
  #leaseSeconds: number;
  #expiresAt: Date;
  #proof: string | null;
  readonly #controller = new AbortController();
  readonly #listeners = new Set<LeaseListener>();
  readonly #owner: LeaseOwner;
  #released: Promise<void> | undefined;

  constructor(init: LeaseInit, owner: LeaseOwner) {
    this.id = init.id;
    this.poolId = init.poolId;
    this.app = init.app;
    this.credits = init.credits;
    this.fencingToken = init.fencingToken;
    this.acquiredAt = new Date(init.acquiredAt);
    this.host = init.host;
    this.workUnitId = init.workUnitId;
    this.refreshProof = init.refreshProof;
    this.#leaseSeconds = init.leaseSeconds;
    this.#expiresAt = new Date(init.expiresAt);
    this.#proof = init.proof;
    this.#owner = owner;
  }

  /** Aborts when the lease is lost (see the class comment); its reason is a TokenpoolError. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The server's expiry after the last successful heartbeat. */
  get expiresAt(): Date {
    return this.#expiresAt;
  }

  get leaseSeconds(): number {
    return this.#leaseSeconds;
  }

  /**
   * The signed proof (JWT) for tools. Granted with the lease; refreshed by every heartbeat
   * only when the lease was checked out with `refreshProof: true` (otherwise it keeps the
   * check-out's `exp`).
   */
  get proof(): string | null {
    return this.#proof;
  }

  /** Whether the heartbeats report the lease's user as idle (see setIdle). */
  get idle(): boolean {
    return this.#idle;
  }

  /**
   * Reports the user idle (true) or active again (false) with the following heartbeats: time
   * during which every lease of a draw reports idle is recorded as the draw's idle part, for
   * the shelfware and right-sizing reports. It changes nothing about the lease itself.
   */
  setIdle(idle: boolean): void {
    this.#idle = idle;
  }

  /** True once released or lost. */
  get ended(): boolean {
    return this.#released !== undefined || this.signal.aborted;
  }

  /**
   * Calls `listener` after every successful heartbeat, once expiresAt (and proof, with
   * refreshProof) are updated. Returns a function that removes it.
   */
  onHeartbeat(listener: LeaseListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Checks the lease in and stops its heartbeats. Idempotent: every call returns the same
   * promise, and a lease that already ended (revoked, expired, lost) is not an error. Rejects
   * only when the server could not be reached before the retry deadline; the lease then
   * expires by itself within leaseSeconds, as its heartbeats have stopped.
   */
  release(): Promise<void> {
    if (!this.#released) {
      this.#owner.forget(this);
      this.#released = this.signal.aborted ? Promise.resolve() : this.#owner.checkin(this);
    }
    return this.#released;
  }

  /** @internal the heartbeat scheduler's report of a successful heartbeat. */
  heartbeatSucceeded(lease: HeartbeatLease): void {
    this.#expiresAt = new Date(lease.expiresAt);
    this.#leaseSeconds = lease.leaseSeconds;
    if (lease.proof !== undefined) this.#proof = lease.proof;
    for (const listener of [...this.#listeners]) {
      try {
        listener(this);
      } catch {
        // A listener's failure is its own; the heartbeats go on.
      }
    }
  }

  /** @internal the heartbeat scheduler's report that the lease is lost. */
  lost(reason: TokenpoolError): void {
    this.#owner.forget(this);
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  toJSON(): Record<string, unknown> {
    return {
      id: this.id,
      poolId: this.poolId,
      app: this.app,
      credits: this.credits,
      fencingToken: this.fencingToken,
      expiresAt: this.expiresAt.toISOString(),
      leaseSeconds: this.leaseSeconds,
      host: this.host,
      workUnitId: this.workUnitId,
    };
  }
}
