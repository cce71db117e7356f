import type { Role } from './role';
import type { PrincipalKind } from './principal-kind';

/** Who is calling, resolved once per request from its API key. */
export interface AuthContext {
  keyId: string;
  organizationId: string;
  principalId: string;
  principalKind: PrincipalKind;
  team: string | null;
  role: Role;
  /** When the key stops working; cached authentications honour it. */
  expiresAt: Date | null;
}

/** The GraphQL context of one operation (HTTP request or subscription). */
export interface GqlContext {
  auth?: AuthContext;
  requestId?: string;
  /** Aborts when the HTTP client goes away before its answer (a waiting check-out leaves the queue). */
  signal?: AbortSignal;
}
