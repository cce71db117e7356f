import type { LeaseEntity, LeaseState } from './lease.entity';
import type { Lease } from './lease.model';

/** What a lease view is built from: a lease row, or (for a heartbeat) what Redis and the lease's card hold. */
export type LeaseViewSource = Pick<
  LeaseEntity,
  | 'id'
  | 'poolId'
  | 'appId'
  | 'principalId'
  | 'organizationId'
  | 'workUnitId'
  | 'credits'
  | 'fencingToken'
  | 'state'
  | 'acquiredAt'
  | 'expiresAt'
  | 'endedAt'
  | 'host'
  | 'leaseSeconds'
  | 'borrowedUntil'
> & { revokedAt?: Date | null };

/**
 * A lease as callers see it at `now`: one whose expiry has passed reads EXPIRED, ended at
 * its expiresAt, even before the sweep has recorded it.
 */
export function leaseView(row: LeaseViewSource, now: Date = new Date()): Lease {
  const lapsed = row.state === 'ACTIVE' && row.expiresAt.getTime() <= now.getTime();
  const state: LeaseState = lapsed ? 'EXPIRED' : row.state;
  return {
    id: row.id,
    poolId: row.poolId,
    appId: row.appId,
    principalId: row.principalId,
    organizationId: row.organizationId,
    workUnitId: row.workUnitId,
    credits: row.credits,
    fencingToken: String(row.fencingToken),
    state,
    acquiredAt: row.acquiredAt,
    expiresAt: row.expiresAt,
    // A revoked borrowed lease ended when it was revoked; its credits stay held until borrowedUntil.
    endedAt: lapsed ? row.expiresAt : (row.revokedAt ?? row.endedAt),
    host: row.host,
    leaseSeconds: row.leaseSeconds,
    borrowedUntil: row.borrowedUntil,
  };
}
