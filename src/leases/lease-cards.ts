import type { Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import type { LeaseEntity } from './lease.entity';
import type { LeaseStore } from '../lease-engine/lease-store';

/** What a heartbeat needs to know of a lease besides Redis's pool state; fixed at the grant. */
export type LeaseCard = Pick<
  LeaseEntity,
  | 'id'
  | 'organizationId'
  | 'poolId'
  | 'appId'
  | 'principalId'
  | 'requestedByPrincipalId'
  | 'workUnitId'
  | 'host'
  | 'credits'
  | 'leaseSeconds'
  | 'fencingToken'
  | 'acquiredAt'
> & {
  /** Set on a borrowed lease, which takes no heartbeat (lease-heartbeats.ts answers it from PostgreSQL). */
  borrowedUntil?: Date | null;
};

const CARDS_KEPT = 50_000;
// A card outlives its lease's expiry by this much, so a heartbeat that comes late still finds
// it (and is answered that the lease ended).
const CARD_SLACK_MS = 60_000;
// A heartbeat renews the card's life in Redis only when this process last did so longer ago:
// the card then still outlives the lease by half the slack, and a client heartbeating 500
// leases every few seconds costs no Redis call per lease each time.
const KEEP_EVERY_MS = CARD_SLACK_MS / 2;

/**
 * Lease cards, so that a heartbeat on any API process finds its lease's pool, organization and
 * holder without PostgreSQL: each is kept in Redis from the grant (by the process that
 * granted it) for as long as heartbeats keep the lease alive, plus a minute, and dropped when
 * the lease is checked in or revoked; this process keeps its recent ones in memory too. A card
 * says nothing of whether the lease is still active: the pool's state in Redis does.
 */
export class LeaseCards {
  private readonly known = new LRUCache<string, LeaseCard>({ max: CARDS_KEPT });
  /** When this process last set each card's life in Redis. */
  private readonly keptAt = new LRUCache<string, number>({ max: CARDS_KEPT });

  constructor(
    private readonly store: LeaseStore,
    private readonly logger: Logger,
  ) {}

  /** Keeps a lease's card; Redis's copy is written without waiting (a heartbeat that misses it reads PostgreSQL). */
  remember(lease: LeaseCard): LeaseCard {
    const card = cardOf(lease);
    this.known.set(card.id, card);
    this.keptAt.set(card.id, Date.now());
    this.store
      .saveCard(card.id, JSON.stringify({ ...card, acquiredAt: card.acquiredAt.getTime(), borrowedUntil: card.borrowedUntil?.getTime() ?? null }), ttlMs(card))
      .catch((err: Error) => {
        this.logger.warn(`Could not keep the card of lease ${card.id} in Redis; its heartbeats read PostgreSQL (${err.message})`);
      });
    return card;
  }

  /** The lease's card if this process holds it in memory (no Redis call), else undefined. */
  inMemory(leaseId: string): LeaseCard | undefined {
    return this.known.get(leaseId);
  }

  /** The lease's card from memory or Redis, or null. */
  async find(leaseId: string): Promise<LeaseCard | null> {
    const known = this.known.get(leaseId);
    if (known) return known;
    const text = await this.store.readCard(leaseId);
    if (text === null) return null;
    const parsed = JSON.parse(text) as Omit<LeaseCard, 'acquiredAt' | 'borrowedUntil'> & { acquiredAt: number; borrowedUntil?: number | null };
    const card = { ...parsed, acquiredAt: new Date(parsed.acquiredAt), borrowedUntil: parsed.borrowedUntil ? new Date(parsed.borrowedUntil) : null };
    this.known.set(leaseId, card);
    return card;
  }

  /** A heartbeat is about to extend the lease: its card lives one lease length (and the slack) longer. */
  keep(card: LeaseCard): void {
    const now = Date.now();
    if (now - (this.keptAt.get(card.id) ?? 0) < KEEP_EVERY_MS) return;
    this.keptAt.set(card.id, now);
    // Not awaited: it goes out with the heartbeat's own call, which reports a Redis fault.
    this.store.keepCard(card.id, ttlMs(card)).catch((err: Error) => this.logger.debug(`Card of lease ${card.id} not kept: ${err.message}`));
  }

  /** The lease ended: nobody needs its card any more. */
  forget(leaseId: string): void {
    this.known.delete(leaseId);
    this.keptAt.delete(leaseId);
    // Not awaited; a card left behind lapses a minute after its lease would have.
    this.store.dropCard(leaseId).catch((err: Error) => this.logger.debug(`Card of lease ${leaseId} not dropped: ${err.message}`));
  }
}

function cardOf(lease: LeaseCard): LeaseCard {
  const {
    id,
    organizationId,
    poolId,
    appId,
    principalId,
    requestedByPrincipalId,
    workUnitId,
    host,
    credits,
    leaseSeconds,
    fencingToken,
    acquiredAt,
    borrowedUntil,
  } = lease;
  return {
    id,
    organizationId,
    poolId,
    appId,
    principalId,
    requestedByPrincipalId,
    workUnitId,
    host,
    credits,
    leaseSeconds,
    fencingToken: String(fencingToken),
    acquiredAt,
    borrowedUntil: borrowedUntil ?? null,
  };
}

function ttlMs(card: LeaseCard): number {
  return card.leaseSeconds * 1000 + CARD_SLACK_MS;
}
