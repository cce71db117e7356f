import { Logger } from '@nestjs/common';
import type { AuthContext } from '../auth/auth-context';
import { AppError } from '../common/errors/app-error';
import { isDependencyDown } from '../common/errors/dependency-errors';
import { isUuid } from '../common/validation/validate';
import { HeartbeatWriteBehind } from './heartbeat-write-behind';
import { mayActOnLease } from './lease-access';
import { LeaseCard, LeaseCards } from './lease-cards';
import type { LeaseEntity } from './lease.entity';
import type { EndedLease, LeaseRecordsService } from './lease-records.service';
import type { LeaseStore } from '../lease-engine/lease-store';
import type { LeaseViewSource } from './lease-view';
import { LOST_LEASE_MARGIN_MS } from './pool-state.service';

// PostgreSQL's copy of heartbeats is written this often.
const WRITE_EVERY_MS = 1000;
// A heartbeat that came this close to the expiry it replaced is written at once: PostgreSQL
// must not read the lease as run out while Redis holds it.
const URGENT_WITHIN_MS = 2 * WRITE_EVERY_MS;

export interface LeaseHeartbeatsDeps {
  store: LeaseStore;
  records: LeaseRecordsService;
  /** The answer to a pool whose Redis state is gone (and the request to rebuild it). */
  rebuilding: (poolId: string) => AppError;
  /** The answer to a lease Redis lost while PostgreSQL holds it active (and the request to check the pool). */
  lost: (poolId: string) => AppError;
  /** Announces a change of the pool's figures. */
  changed: (poolId: string) => void;
}

/**
 * Heartbeats need only Redis and an authenticated key: the lease's card (lease-cards.ts) says
 * where it lives and who may extend it, the pool's state in Redis extends it or says it
 * ended (an ended lease is never revived), and PostgreSQL's copy of the expiry and of the
 * idle bookkeeping is written behind in batches. So heartbeats are cheap, and leases outlive
 * a PostgreSQL outage as long as their holders heartbeat. PostgreSQL is read only for a
 * lease without a card, and to tell how an ended lease ended.
 */
export class LeaseHeartbeats {
  private readonly logger = new Logger('LeaseHeartbeats');
  private readonly cards: LeaseCards;
  private readonly writes: HeartbeatWriteBehind;

  constructor(private readonly deps: LeaseHeartbeatsDeps) {
    this.cards = new LeaseCards(deps.store, this.logger);
    this.writes = new HeartbeatWriteBehind({
      everyMs: WRITE_EVERY_MS,
      logger: this.logger,
      write: async (runs) => this.freeEnded(await deps.records.writeHeartbeats(runs)),
    });
  }

  async beat(auth: AuthContext, leaseId: string, idle: boolean): Promise<LeaseViewSource> {
    const card = await this.cardFor(auth, leaseId);
    const leaseMs = card.leaseSeconds * 1000;
    this.cards.keep(card);
    const result = await this.deps.store.heartbeat({ poolId: card.poolId, leaseId, leaseMs });
    if (result.status === 'UNAVAILABLE') throw this.deps.rebuilding(card.poolId);
    if (result.status === 'NOT_ACTIVE') throw await this.endedBefore(card);
    // The script set the expiry to its own clock's now plus leaseMs.
    const at = result.expiresAtMs - leaseMs;
    this.writes.add({ leaseId, expiresAt: new Date(result.expiresAtMs), at: new Date(at), idle }, result.previousExpiresAtMs - at < URGENT_WITHIN_MS);
    return { ...card, state: 'ACTIVE', expiresAt: new Date(result.expiresAtMs), endedAt: null };
  }

  /** A lease was granted and recorded: its card is kept from now on. */
  granted(lease: LeaseCard): void {
    this.cards.remember(lease);
  }

  /** Before a lease of this process ends in PostgreSQL: its waiting heartbeats are written first. */
  beforeEnd(leaseId: string): Promise<void> {
    return this.writes.flushLease(leaseId);
  }

  /** The lease ended (checked in, revoked). */
  ended(leaseId: string): void {
    this.cards.forget(leaseId);
  }

  /** At shutdown: what waits is written to PostgreSQL. */
  close(): Promise<void> {
    return this.writes.close();
  }

  /** The card of a lease the caller may heartbeat (else NOT_FOUND), from memory, Redis or, for a lease without one, PostgreSQL. */
  private async cardFor(auth: AuthContext, leaseId: string): Promise<LeaseCard> {
    const notYours = () => new AppError('NOT_FOUND', `No lease with id ${leaseId} of yours`, { field: 'leaseId' });
    if (!isUuid(leaseId)) throw notYours();
    let card = await this.cards.find(leaseId);
    if (!card) {
      const row = await this.deps.records.findInOrganization(auth.organizationId, leaseId);
      if (!row || !mayActOnLease(auth, row)) throw notYours();
      if (row.state !== 'ACTIVE') throw notActive(row);
      card = this.cards.remember(row);
    }
    if (card.organizationId !== auth.organizationId || !mayActOnLease(auth, card)) throw notYours();
    return card;
  }

  /**
   * Redis no longer holds the lease: PostgreSQL says how it ended (an expiry Redis made is
   * recorded here if the sweep has not yet). Without PostgreSQL that is unknown: UNAVAILABLE,
   * never an answer that the lease is still held.
   */
  private async endedBefore(card: LeaseCard): Promise<AppError> {
    this.cards.forget(card.id);
    try {
      await this.writes.flushLease(card.id);
      const recorded = await this.deps.records.findById(card.id);
      // PostgreSQL holds it active well before its expiry, Redis no longer: Redis went back in
      // time. The lease is the holder's; the pool is rebuilt from PostgreSQL, not the lease ended.
      if (recorded?.state === 'ACTIVE' && recorded.expiresAt.getTime() > Date.now() + LOST_LEASE_MARGIN_MS) return this.deps.lost(card.poolId);
      await this.deps.records.markExpired(card.id);
      return notActive((await this.deps.records.findById(card.id)) ?? { id: card.id, state: 'EXPIRED' });
    } catch (err) {
      if (!isDependencyDown(err)) throw err;
      return AppError.unavailable(`Lease ${card.id} is no longer active; PostgreSQL, which records how it ended, is unreachable: retry shortly`, 2);
    }
  }

  /**
   * Leases a heartbeat extended in Redis although PostgreSQL had ended them: a check-in or
   * revocation whose Redis step failed or ran just behind the heartbeat. Freed in Redis now,
   * so the next heartbeat learns the end.
   */
  private freeEnded(ended: EndedLease[]): void {
    for (const lease of ended) {
      this.cards.forget(lease.id);
      const ref = { poolId: lease.poolId, leaseId: lease.id };
      const free = lease.state === 'RELEASED' ? this.deps.store.checkin(ref) : this.deps.store.revoke(ref);
      free.then(
        (result) => {
          if (result.status === 'ENDED') this.deps.changed(lease.poolId);
        },
        (err: Error) => this.logger.warn(`Lease ${lease.id} ended in PostgreSQL but could not be freed in Redis; it expires by itself (${err.message})`),
      );
    }
  }
}

export function notActive(lease: Pick<LeaseEntity, 'id' | 'state'>): AppError {
  const state = lease.state === 'ACTIVE' ? 'EXPIRED' : lease.state;
  return new AppError('LEASE_NOT_ACTIVE', `Lease ${lease.id} is ${state.toLowerCase()}; check out again`, { state });
}
