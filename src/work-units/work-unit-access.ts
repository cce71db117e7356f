import type { AuthContext } from '../auth/auth-context';
import { AppError } from '../common/errors/app-error';

/** An ADMIN key may change any work unit of its organization. */
export function mayChangeAnyWorkUnit(auth: Pick<AuthContext, 'role'>): boolean {
  return auth.role === 'ADMIN';
}

/**
 * Who may change a work unit's owner, team, process or outcome: an ADMIN key, or a key of the
 * principal that created it. Any writer may still record usage on it; the upsert statement
 * (work-units.service.ts) applies the same rule in SQL, under the row's lock.
 */
export function mayChangeWorkUnit(auth: Pick<AuthContext, 'role' | 'principalId'>, createdByPrincipalId: string): boolean {
  return mayChangeAnyWorkUnit(auth) || createdByPrincipalId === auth.principalId;
}

export function notYourWorkUnit(what: string, field: string): AppError {
  return new AppError(
    'FORBIDDEN',
    `Work unit ${what} was created by another principal: a CLIENT key may change the owner, team, process or outcome only of work units its own principal created (it may still record usage on this one); ask an ADMIN key to change it`,
    { field },
  );
}
