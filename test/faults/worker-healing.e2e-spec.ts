import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { ENSURE_LEDGER_PARTITIONS_JOB, LEDGER_MAINTENANCE_QUEUE } from '../../src/ledger/ensure-ledger-partitions.job';
import { LeaseStore } from '../../src/lease-engine/lease-store';
import { LEASE_MAINTENANCE_QUEUE, SWEEP_POOLS_JOB } from '../../src/leases/sweep-pools.job';
import { REPORTS_QUEUE, ROLLUP_USAGE_JOB } from '../../src/reports/rollup-usage.job';
import { drawsChargedTwice, drawSources, stillActive, unchargedLeases } from '../support/charges';
import { LoadPool, runLoad, setUpLoadPool } from '../support/load';
import { ApiProcess, startApi, startPrivateRedis, startWorker, startWorld, waitFor, World } from '../support/processes';

/**
 * The worker heals itself and drops no lease event, against real processes, each scenario
 * in a world of its own (a private Redis and database): Redis restarted empty while the
 * worker and the APIs keep running, the worker killed for longer than the events stream
 * used to be bounded, and the worker killed again and again. After each, every lease a
 * client was told it holds is charged once.
 */

const LEASE_SECONDS = 5;
const ENV = { SWEEP_INTERVAL_MS: '500', REBUILD_GRACE_SECONDS: '5' };
const POOL = {
  cap: 20,
  apps: [
    { key: 'probe', cost: 1, shareScope: 'NONE' },
    { key: 'mesh', cost: 3, shareScope: 'PRINCIPAL' },
    { key: 'cad', cost: 5, shareScope: 'PRINCIPAL_HOST' },
  ],
  principals: 10,
};
const CLIENTS = 40;
// Generous bounds that only guard against a hang; the work itself is bounded by the load.
const SETTLE_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SCHEDULES = [
  { queue: LEASE_MAINTENANCE_QUEUE, id: SWEEP_POOLS_JOB },
  { queue: REPORTS_QUEUE, id: ROLLUP_USAGE_JOB },
  { queue: LEDGER_MAINTENANCE_QUEUE, id: ENSURE_LEDGER_PARTITIONS_JOB },
];

/**
 * Every schedule of the worker exists in the Redis at `port` and has run since it was
 * (re)created: a job scheduler creates its next job when the worker takes the current one,
 * so a second iteration means the first was taken.
 */
async function schedulesRun(port: number): Promise<void> {
  const queues = SCHEDULES.map((s) => ({
    ...s,
    queue: new Queue(s.queue, { connection: { host: '127.0.0.1', port, maxRetriesPerRequest: 1 }, prefix: `${process.env.REDIS_PREFIX}:bull` }),
  }));
  try {
    const ran = async () => {
      for (const { queue, id } of queues) if (((await queue.getJobScheduler(id))?.iterationCount ?? 0) < 2) return false;
      return true;
    };
    await waitFor(ran, "the worker's schedules to run again", 60_000);
  } finally {
    await Promise.all(queues.map((q) => q.queue.close()));
  }
}

/** Waits (bounded) until the pool's credits are all back and every acknowledged lease is ended and charged. */
async function settle(world: World, store: LeaseStore, poolId: string, acknowledged: string[]): Promise<void> {
  await waitFor(async () => (await store.status(poolId)).inUse === 0, 'the pool to drain', SETTLE_MS);
  const settled = async () =>
    (await unchargedLeases(world.databaseUrl, acknowledged)).length === 0 && (await stillActive(world.databaseUrl, acknowledged)).length === 0;
  await waitFor(settled, 'every lease ended and charged', SETTLE_MS).catch(() => undefined);
}

/** The promises, read from the world's database once it settled. */
async function expectEveryLeaseChargedOnce(world: World, acknowledged: string[]): Promise<void> {
  expect(await stillActive(world.databaseUrl, acknowledged)).toEqual([]);
  expect(await unchargedLeases(world.databaseUrl, acknowledged)).toEqual([]);
  expect(await drawsChargedTwice(world.databaseUrl, acknowledged)).toEqual([]);
}

describe('worker healing', () => {
  /** A world, two API processes in it, one pool under load, and a control connection to its Redis. */
  async function scenario() {
    const world = await startWorld();
    const env = { ...ENV, ...world.env };
    const apis: ApiProcess[] = await Promise.all([startApi(env), startApi(env)]);
    const control = new Redis(world.redis.url, { maxRetriesPerRequest: 1 });
    control.on('error', () => undefined);
    const store = new LeaseStore(control, `${process.env.REDIS_PREFIX}:lease`);
    const pool: LoadPool = await setUpLoadPool(apis[0], world.adminKey, POOL);
    const load = (durationMs: number) =>
      runLoad({ apis: () => apis, keys: pool.keys, poolId: pool.poolId, apps: pool.appKeys, leaseSeconds: LEASE_SECONDS }, { clients: CLIENTS, durationMs });
    /** Stops the scenario's processes (the worker it runs now included) and drops its world. */
    const close = async (worker: { stop(): Promise<unknown> }) => {
      control.disconnect();
      await Promise.all([...apis.map((a) => a.stop()), worker.stop()]);
      await world.close();
    };
    return { world, env, apis, control, store, pool, load, close };
  }

  it('re-creates its schedules within 60 s when Redis restarts empty under load with the worker and APIs left running, drains the pool and charges every lease', async () => {
    const s = await scenario();
    const worker = await startWorker(s.env);
    try {
      const chaos = (async () => {
        await sleep(4000);
        await s.world.redis.server.stop();
        // Down for a second, so the load surely meets the outage (a restart in a few
        // milliseconds could fall between a slow machine's requests).
        await sleep(1000);
        s.world.redis.server = (await startPrivateRedis([], s.world.redis.port)).server;
        await schedulesRun(s.world.redis.port);
      })();
      const [{ stats, acknowledged }] = await Promise.all([s.load(12_000), chaos]);
      console.log(`redis restart: ${JSON.stringify(stats)}`);
      expect(stats.granted).toBeGreaterThan(0);
      expect(stats.unavailable).toBeGreaterThan(0);
      await settle(s.world, s.store, s.pool.poolId, acknowledged);
      await expectEveryLeaseChargedOnce(s.world, acknowledged);
    } finally {
      await s.close(worker);
    }
  }, 180_000);

  it('records every event of the time it was down, however many the stream held, and charges every ended draw exactly once', async () => {
    const s = await scenario();
    let worker = await startWorker(s.env);
    const stream = s.store.keys(s.pool.poolId).events;
    try {
      const chaos = (async () => {
        await sleep(2000);
        worker.signal('SIGKILL');
        await worker.exited;
        await sleep(3000);
        // 100,500 entries pass the old bound (XADD MAXLEN ~ 100000) in one go, as a worker
        // down for long under heavy load would see; they name no lease. The load goes on
        // adding real events after them.
        const [first, last] = (await s.control.eval(FILL, 1, stream, 100_500)) as [string, string];
        await sleep(4000);
        return { first, last };
      })();
      const [{ stats, acknowledged }, filler] = await Promise.all([s.load(12_000), chaos]);
      console.log(`worker down: ${JSON.stringify(stats)}`);
      expect(stats.granted).toBeGreaterThan(0);
      expect(stats.checkins).toBeGreaterThan(0);
      // Nothing unrecorded was trimmed: the filler is all there. It goes before the worker comes
      // back, so that the worker has only real events to record.
      expect(await s.control.eval(UNFILL, 1, stream, filler.first, filler.last)).toBe(100_500);
      worker = await startWorker(s.env);
      await settle(s.world, s.store, s.pool.poolId, acknowledged);
      await expectEveryLeaseChargedOnce(s.world, acknowledged);
      // Every draw was learnt from its own end event: none had to be reconciled.
      expect(Object.keys(await drawSources(s.world.databaseUrl, acknowledged))).toEqual(['stream']);
    } finally {
      await s.close(worker);
    }
  }, 180_000);

  it('charges nothing twice and misses nothing when the worker is killed again and again under load', async () => {
    const s = await scenario();
    let worker = await startWorker(s.env);
    let kills = 0;
    try {
      const killer = (async () => {
        for (let i = 0; i < 8; i++) {
          // Once it is up and sweeping: at any instant of its work.
          await sleep(300 + Math.random() * 1200);
          worker.signal('SIGKILL');
          await worker.exited;
          kills += 1;
          worker = await startWorker(s.env);
        }
      })();
      const [{ stats, acknowledged }] = await Promise.all([s.load(14_000), killer]);
      console.log(`worker kills: ${kills}, ${JSON.stringify(stats)}`);
      expect(kills).toBe(8);
      expect(stats.granted).toBeGreaterThan(0);
      await settle(s.world, s.store, s.pool.poolId, acknowledged);
      await expectEveryLeaseChargedOnce(s.world, acknowledged);
    } finally {
      await s.close(worker);
    }
  }, 180_000);
});

/** Test-only: adds ARGV[1] entries to the stream KEYS[1] at once; returns the first and last id. */
const FILL = `
local first, last
for i = 1, tonumber(ARGV[1]) do
  last = redis.call('XADD', KEYS[1], '*', 'lease_expired', '00000000-0000-4000-8000-000000000000|0')
  first = first or last
end
return { first, last }`;

/** Test-only: deletes whatever is left of the stream KEYS[1] from id ARGV[1] to ARGV[2]. */
const UNFILL = `
local deleted = 0
while true do
  local batch = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[2], 'COUNT', 1000)
  if #batch == 0 then return deleted end
  local ids = {}
  for i, entry in ipairs(batch) do ids[i] = entry[1] end
  deleted = deleted + redis.call('XDEL', KEYS[1], unpack(ids))
end`;
