import type Redis from 'ioredis';

/** Removes every key that starts with `prefix` (SCAN + UNLINK): a test's or a bench's own keys in the shared Redis. */
export async function unlinkPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}
