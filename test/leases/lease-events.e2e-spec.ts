import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { LeaseStore } from '../../src/lease-engine/lease-store';
import { unlinkPrefix } from '../support/redis-keys';

// Talks to the shared Redis under its own prefix, and removes only its own keys.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `tptest:events:${randomUUID().slice(0, 8)}`;
const GROUP = 'recorder';

/** The lease events stream keeps every entry until its consumer group has acknowledged it. */
describe('LeaseStore events stream', () => {
  let redis: Redis;
  let store: LeaseStore;

  beforeAll(() => {
    redis = new Redis(REDIS_URL);
    store = new LeaseStore(redis, PREFIX);
  });

  afterAll(async () => {
    await unlinkPrefix(redis, PREFIX);
    await redis.quit();
  });

  async function newPool(): Promise<string> {
    const poolId = randomUUID();
    await store.install(poolId, { epoch: 1, cap: 10, apps: [], groups: [], leases: [], graceMs: 0 });
    return poolId;
  }

  /** Adds `count` well-formed expiry events naming leases no one holds; returns their ids in order. */
  async function addEvents(poolId: string, count: number): Promise<string[]> {
    const pipeline = redis.pipeline();
    for (let i = 0; i < count; i++) pipeline.xadd(store.keys(poolId).events, '*', 'lease_expired', `${randomUUID()}|${i}`);
    return ((await pipeline.exec()) ?? []).map(([, id]) => id as string);
  }

  const read = (poolId: string, count: number, pending = false) => store.readEvents({ poolId, group: GROUP, consumer: 'c', count, pending });

  it('trims on a sweep only the entries the consumer group acknowledged, keeping pending and undelivered ones', async () => {
    const poolId = await newPool();
    const ids = await addEvents(poolId, 250);
    const delivered = await read(poolId, 200);
    expect(delivered).toHaveLength(200);
    await store.ackEvents(poolId, GROUP, ids.slice(0, 150));
    await store.sweep(poolId);
    const stream = store.keys(poolId).events;
    const left = await redis.xrange(stream, '-', '+');
    // Trimmed by whole stream nodes (XTRIM MINID ~): some acknowledged entries may stay, no other may go.
    expect(left.length).toBeLessThan(250);
    expect(left.slice(-100).map(([id]) => id)).toEqual(ids.slice(150));
  });

  it('never trims a stream that no consumer group reads yet', async () => {
    const poolId = await newPool();
    await addEvents(poolId, 250);
    await store.sweep(poolId);
    expect(await redis.xlen(store.keys(poolId).events)).toBe(250);
  });

  it('acknowledges and skips a pending entry that was deleted from the stream, and returns the others', async () => {
    const poolId = await newPool();
    const [gone, kept] = await addEvents(poolId, 2);
    expect(await read(poolId, 10)).toHaveLength(2);
    await redis.xdel(store.keys(poolId).events, gone);
    const again = await read(poolId, 10, true);
    expect(again.map((e) => e.id)).toEqual([kept]);
    const [pending] = (await redis.xpending(store.keys(poolId).events, GROUP)) as [number];
    expect(pending).toBe(1);
  });

  it('creates the consumer group of a pool whose stream does not exist yet, reading from its start', async () => {
    const poolId = await newPool();
    await store.ensureEventGroup(poolId, GROUP);
    await store.ensureEventGroup(poolId, GROUP);
    const ids = await addEvents(poolId, 3);
    expect((await read(poolId, 10)).map((e) => e.id)).toEqual(ids);
  });
});
