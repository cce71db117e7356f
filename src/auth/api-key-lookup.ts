import type { AuthContext } from './auth-context';

/**
 * What authentication needs from the API keys feature. Auth imports no feature (every
 * feature imports its decorators), so the keys arrive through this token, which
 * ApiKeysModule provides and the app hands over with AuthModule.forKeys(ApiKeysModule).
 */
export abstract class ApiKeyLookup {
  /** The caller of the key with this secret hash, or null when it is unknown, revoked or expired. */
  abstract authenticate(secretHash: string): Promise<AuthContext | null>;
  /** The ids among these of keys that still work, read from the database (never a cache). */
  abstract stillValid(keyIds: string[]): Promise<Set<string>>;
}
