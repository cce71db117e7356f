import type { Lease } from '../leases/lease.model';

/** Why verifyLease answered valid false. */
export type VerificationReason = 'BAD_SIGNATURE' | 'NOT_FOUND' | 'RELEASED' | 'REVOKED' | 'EXPIRED' | 'STALE_FENCING_TOKEN';

/** What a genuine proof asserts that can stop being true. */
export interface ProofFacts {
  fence: string;
  /** Its exp has passed. */
  expired: boolean;
}

/**
 * Decides a genuine proof against the lease it names (as leaseView presents it now): null
 * when it holds. An ended lease answers with how it ended; an expired proof of a lease that
 * a heartbeat kept alive is EXPIRED too (a fresher proof exists); a fencing token below the
 * lease's current one means the lease was re-issued since (e.g. a rebuild).
 */
export function verdictFor(proof: ProofFacts, lease: Pick<Lease, 'state' | 'fencingToken'>): VerificationReason | null {
  if (lease.state === 'RELEASED' || lease.state === 'REVOKED') return lease.state;
  if (lease.state === 'EXPIRED' || proof.expired) return 'EXPIRED';
  if (BigInt(proof.fence) < BigInt(lease.fencingToken)) return 'STALE_FENCING_TOKEN';
  return null;
}
