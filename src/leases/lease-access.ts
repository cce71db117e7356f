import type { AuthContext } from '../auth/auth-context';
import type { LeaseEntity } from './lease.entity';

/** The holder, or the SERVICE principal that checked the lease out on the holder's behalf. */
export function holdsLease(auth: Pick<AuthContext, 'principalId'>, lease: Pick<LeaseEntity, 'principalId' | 'requestedByPrincipalId'>): boolean {
  return lease.principalId === auth.principalId || lease.requestedByPrincipalId === auth.principalId;
}

/**
 * Who may act on a lease (heartbeat, check in, hold its proof): an ADMIN key, or a CLIENT key
 * that holds it. A VIEWER key only reads, even one of the holder's principal.
 */
export function mayActOnLease(auth: Pick<AuthContext, 'principalId' | 'role'>, lease: Pick<LeaseEntity, 'principalId' | 'requestedByPrincipalId'>): boolean {
  return auth.role === 'ADMIN' || (auth.role === 'CLIENT' && holdsLease(auth, lease));
}
