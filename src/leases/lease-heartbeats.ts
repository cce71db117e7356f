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
import type { HeartbeatOutcome, LeaseStore } from '../lease-engine/lease-store';
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
    if (card.borrowedUntil) return this.borrowed(card);
    this.cards.keep(card);
    const result = await this.deps.store.heartbeat({ poolId: card.poolId, leaseId, leaseMs: card.leaseSeconds * 1000 });
    if (result.status === 'UNAVAILABLE') throw this.deps.rebuilding(card.poolId);
    if (result.status === 'NOT_ACTIVE') throw await this.endedBefore(card);
    return this.extended(card, result, idle);
  }

  /**
   * Heartbeats of many leases (up to MAX_BATCH_HEARTBEATS, checked by the caller), each
   * answered on its own, in the order asked: one Redis call per pool, whatever the number of
   * leases, and PostgreSQL only for what a single heartbeat would read it for.
   */
  async beatMany(auth: AuthContext, leaseIds: string[], idle: boolean): Promise<HeartbeatAnswer[]> {
    const answers = new Map<string, HeartbeatAnswer>();
    const byPool = new Map<string, LeaseCard[]>();
    const ids = [...new Set(leaseIds)];
    // Cards this process holds are checked at once; only the others are looked up (Redis, PostgreSQL).
    const cards: (LeaseCard | null)[] = [];
    const lookups: Promise<void>[] = [];
    for (const id of ids) {
      const known = this.cards.inMemory(id);
      if (known && known.organizationId === auth.organizationId && mayActOnLease(auth, known)) cards.push(known);
      else
        lookups.push(
          this.cardFor(auth, id).then(
            (card) => void cards.push(card),
            (err: unknown) => void answers.set(id, { leaseId: id, error: refusal(err) }),
          ),
        );
    }
    await Promise.all(lookups);
    const borrowed: Promise<void>[] = [];
    for (const card of cards) {
      if (!card) continue;
      if (card.borrowedUntil) {
        borrowed.push(
          this.borrowed(card).then(
            (lease) => void answers.set(card.id, { leaseId: card.id, lease }),
            (err: unknown) => void answers.set(card.id, { leaseId: card.id, error: refusal(err) }),
          ),
        );
        continue;
      }
      const pool = byPool.get(card.poolId);
      if (pool) pool.push(card);
      else byPool.set(card.poolId, [card]);
    }
    await Promise.all([...borrowed, ...[...byPool].map(([poolId, poolCards]) => this.beatPool(poolId, poolCards, idle, answers))]);
    return leaseIds.map((id) => answers.get(id)!);
  }

  private async beatPool(poolId: string, cards: LeaseCard[], idle: boolean, answers: Map<string, HeartbeatAnswer>): Promise<void> {
    const answerAll = (error: AppError) => cards.forEach((card) => answers.set(card.id, { leaseId: card.id, error }));
    cards.forEach((card) => this.cards.keep(card));
    let results: HeartbeatOutcome[] | { status: 'UNAVAILABLE' };
    try {
      results = await this.deps.store.heartbeatMany(
        poolId,
        cards.map((card) => ({ leaseId: card.id, leaseMs: card.leaseSeconds * 1000 })),
      );
    } catch (err) {
      return answerAll(refusal(err));
    }
    if (!Array.isArray(results)) return answerAll(this.deps.rebuilding(poolId));
    const ended: Promise<void>[] = [];
    results.forEach((result, i) => {
      const card = cards[i];
      if (result.status === 'OK') answers.set(card.id, { leaseId: card.id, lease: this.extended(card, result, idle) });
      else ended.push(this.endedBefore(card).then((error) => void answers.set(card.id, { leaseId: card.id, error })));
    });
    await Promise.all(ended);
  }

  /** A lease Redis extended: PostgreSQL's copy is written behind; answers the lease as it is now. */
  private extended(card: LeaseCard, result: { expiresAtMs: number; previousExpiresAtMs: number }, idle: boolean): LeaseViewSource {
    // The script set the expiry to its own clock's now plus the lease's length.
    const at = result.expiresAtMs - card.leaseSeconds * 1000;
    this.writes.add({ leaseId: card.id, expiresAt: new Date(result.expiresAtMs), at: new Date(at), idle }, result.previousExpiresAtMs - at < URGENT_WITHIN_MS);
    // Spelled out rather than spread: a card read back from Redis has another hidden class than
    // one made here, and a spread over both was a tenth of a batch's CPU.
    return {
      id: card.id,
      organizationId: card.organizationId,
      poolId: card.poolId,
      appId: card.appId,
      principalId: card.principalId,
      workUnitId: card.workUnitId,
      host: card.host,
      credits: card.credits,
      leaseSeconds: card.leaseSeconds,
      fencingToken: card.fencingToken,
      acquiredAt: card.acquiredAt,
      state: 'ACTIVE',
      expiresAt: new Date(result.expiresAtMs),
      endedAt: null,
      borrowedUntil: null,
    };
  }

  /**
   * A heartbeat on a borrowed lease: it needs none and gets none (its expiry is its
   * borrowedUntil, never moved), so it is answered from PostgreSQL as it stands, or
   * LEASE_NOT_ACTIVE once returned, revoked or past its end.
   */
  private async borrowed(card: LeaseCard): Promise<LeaseViewSource> {
    const row = await this.deps.records.findById(card.id);
    if (row?.state === 'ACTIVE' && row.expiresAt.getTime() > Date.now()) return row;
    this.cards.forget(card.id);
    throw notActive(row ?? { id: card.id, state: 'EXPIRED' });
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

/** One lease's answer in a batch of heartbeats: the lease after it, or why not. */
export interface HeartbeatAnswer {
  leaseId: string;
  lease?: LeaseViewSource;
  error?: AppError;
}

/** A refusal of one lease in a batch; a dependency that is down refuses that lease UNAVAILABLE, anything else fails the batch. */
function refusal(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isDependencyDown(err)) return AppError.unavailable('A dependency of tokenpool is unreachable; retry shortly', 1);
  throw err;
}

export function notActive(lease: Pick<LeaseEntity, 'id' | 'state'>): AppError {
  const state = lease.state === 'ACTIVE' ? 'EXPIRED' : lease.state;
  return new AppError('LEASE_NOT_ACTIVE', `Lease ${lease.id} is ${state.toLowerCase()}; check out again`, { state });
}
