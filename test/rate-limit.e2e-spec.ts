import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { RateLimitService } from '../src/auth/rate-limit.service';
import type { RedisService } from '../src/common/redis/redis.service';
import { loadConfig } from '../src/config/env';

/** The per-key budget against the real Redis: exact for sequential, simultaneous and multi-replica spending. */
describe('rate limit (per API key, counted in Redis)', () => {
  let redis: Redis;
  const prefix = `tptest-ratelimit:${randomUUID().slice(0, 8)}`;

  beforeAll(() => {
    redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  /** A limiter as an API replica has it: the process's command connection, its key prefix. */
  function replica(points: number): RateLimitService {
    const service = { client: redis, key: (...parts: string[]) => [prefix, ...parts].join(':') } as unknown as RedisService;
    return new RateLimitService(service, { ...loadConfig(), rateLimitPoints: points, rateLimitDurationSeconds: 60 });
  }

  async function outcomes(calls: Promise<void>[]): Promise<string[]> {
    return Promise.all(
      calls.map((c) =>
        c.then(
          () => 'ok',
          (err: { code?: string }) => err.code ?? 'error',
        ),
      ),
    );
  }

  it('grants exactly the budget to sequential requests, then RATE_LIMITED with a retry time', async () => {
    const limiter = replica(20);
    const key = randomUUID();
    const answers: string[] = [];
    for (let i = 0; i < 30; i++) answers.push(...(await outcomes([limiter.consume(key)])));
    expect(answers).toEqual([...Array(20).fill('ok'), ...Array(10).fill('RATE_LIMITED')]);
    const refused = await limiter.consume(key).catch((err: { extensions?: { retryAfterSeconds?: number } }) => err);
    expect((refused as { extensions: { retryAfterSeconds: number } }).extensions.retryAfterSeconds).toBeGreaterThan(0);
  });

  it('grants exactly the budget to simultaneous requests', async () => {
    const limiter = replica(20);
    const key = randomUUID();
    await limiter.consume(key);
    const answers = await outcomes(Array.from({ length: 39 }, () => limiter.consume(key)));
    expect(answers.filter((a) => a === 'ok')).toHaveLength(19);
    expect(answers.filter((a) => a === 'RATE_LIMITED')).toHaveLength(20);
  });

  it('keeps the count in Redis, where every replica reads it', async () => {
    const limiter = replica(1000);
    const key = randomUUID();
    for (let i = 0; i < 25; i++) await limiter.consume(key);
    expect(Number(await redis.get(`${prefix}:ratelimit:${key}`))).toBe(25);
  });

  it('holds one budget across replicas that each spend part of it', async () => {
    const [a, b] = [replica(12), replica(12)];
    const key = randomUUID();
    const answers: string[] = [];
    for (let i = 0; i < 10; i++) {
      answers.push(...(await outcomes([a.consume(key)])));
      answers.push(...(await outcomes([b.consume(key)])));
    }
    expect(answers.filter((x) => x === 'ok')).toHaveLength(12);
    expect(answers.slice(12)).toEqual(Array(8).fill('RATE_LIMITED'));
  });
});
