import { Inject, Injectable } from '@nestjs/common';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../common/errors/app-error';
import { RedisService } from '../common/redis/redis.service';
import { APP_CONFIG, AppConfig } from '../config/env';

/**
 * Per-API-key request budget, counted in Redis so it holds across every API replica. If
 * Redis cannot answer, an in-process limiter with the same budget takes over, so an outage
 * neither lets a key run unlimited nor blocks every request.
 */
@Injectable()
export class RateLimitService {
  private readonly limiter: RateLimiterRedis;

  constructor(redis: RedisService, @Inject(APP_CONFIG) config: AppConfig) {
    const budget = { points: config.rateLimitPoints, duration: config.rateLimitDurationSeconds };
    this.limiter = new RateLimiterRedis({
      storeClient: redis.client,
      keyPrefix: redis.key('ratelimit'),
      ...budget,
      insuranceLimiter: new RateLimiterMemory(budget),
    });
  }

  /** Spends one request of the key's budget; throws RATE_LIMITED when it is spent. */
  async consume(keyHash: string): Promise<void> {
    try {
      await this.limiter.consume(keyHash);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        const retryAfterSeconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        throw new AppError('RATE_LIMITED', `Too many requests for this API key; retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
      }
      throw rejection;
    }
  }
}
