import { Injectable } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { hashApiKeySecret, looksLikeApiKey } from './api-key-secret';
import { ApiKeyLookup } from './api-key-lookup';
import type { AuthContext } from './auth-context';
import { RateLimitService } from './rate-limit.service';

/**
 * Authenticates one request (HTTP header or WebSocket connection_init payload). The rate
 * limit is spent before the key lookup and keyed by the secret's hash, so guessing keys
 * costs the same budget as using one.
 */
@Injectable()
export class RequestAuthService {
  constructor(
    private readonly apiKeys: ApiKeyLookup,
    private readonly rateLimit: RateLimitService,
  ) {}

  async authenticate(authorization: unknown): Promise<AuthContext> {
    if (typeof authorization !== 'string' || authorization.length === 0) {
      throw new AppError('UNAUTHENTICATED', 'Send your API key as "Authorization: Bearer <api key>"');
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new AppError('UNAUTHENTICATED', 'The Authorization header must read "Bearer <api key>"');
    const secret = match[1];
    const hash = hashApiKeySecret(secret);
    await this.rateLimit.consume(hash);
    const auth = looksLikeApiKey(secret) ? await this.apiKeys.authenticate(hash) : null;
    if (!auth) throw new AppError('UNAUTHENTICATED', 'The API key is unknown, revoked or expired');
    return auth;
  }
}
