import { createHash, randomBytes } from 'node:crypto';

export const API_KEY_PREFIX = 'tp_';

/** 256 random bits: high enough entropy that a fast hash (SHA-256) is the right store. */
export function newApiKeySecret(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('hex');
}

export function hashApiKeySecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Enough of the secret to tell keys apart in a listing or a log, never enough to use it. */
export function displayPrefixOf(secret: string): string {
  return secret.slice(0, API_KEY_PREFIX.length + 6);
}

/** Whether a bearer token is shaped like one of our keys (cheap check before any lookup). */
export function looksLikeApiKey(token: string): boolean {
  return /^tp_[A-Za-z0-9]{20,200}$/.test(token);
}
