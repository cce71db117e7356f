import type Redis from 'ioredis';

/** Every key of one pool (those under its key base, one hash tag), as DUMP holds it, with its TTL. */
export type PoolSnapshot = Map<string, { dump: Buffer; pttl: number }>;

async function poolKeys(redis: Redis, base: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${base}*`, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** The pool's keys now: what a replica that misses every later write, or a backup taken now, holds. */
export async function snapshotPool(redis: Redis, base: string): Promise<PoolSnapshot> {
  const snapshot: PoolSnapshot = new Map();
  for (const key of await poolKeys(redis, base)) {
    const [dump, pttl] = await Promise.all([redis.dumpBuffer(key), redis.pttl(key)]);
    if (dump) snapshot.set(key, { dump, pttl });
  }
  return snapshot;
}

/**
 * Puts the pool back as `snapshot` had it, in one MULTI (as a failover or a restore would: at
 * once): keys written since are deleted, the others restored (RESTORE ... REPLACE).
 */
export async function rollBackPool(redis: Redis, base: string, snapshot: PoolSnapshot): Promise<void> {
  const since = (await poolKeys(redis, base)).filter((key) => !snapshot.has(key));
  const multi = redis.multi();
  if (since.length > 0) multi.del(...since);
  for (const [key, { dump, pttl }] of snapshot) multi.restore(key, pttl > 0 ? pttl : 0, dump, 'REPLACE');
  const results = await multi.exec();
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0];
}
