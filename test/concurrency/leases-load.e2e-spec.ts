import Redis from 'ioredis';
import { Client } from 'pg';
import { LeaseStore } from '../../src/lease-engine/lease-store';
import { checkHistory } from '../support/history-checker';
import { LOAD_APPS, LoadPool, runLoad, setUpLoadPool } from '../support/load';
import { ApiProcess, Spawned, startApi, startPrivateRedis, startWorker, startWorld, World } from '../support/processes';

/**
 * The promises under load: at least 3 API processes, 100 concurrent clients, random
 * check-outs of apps of several costs against one small pool, heartbeats and check-ins,
 * then crashes (kill -9, some inside a check-out) and a Redis that loses everything. The
 * policies run too: sharing apps (5 clients share each principal's key), two teams with a
 * reservation and ceilings, and a fifth of the check-outs waiting in the fair queue.
 * Each scenario runs in a world of its own (database and Redis): its worker sweeps every pool
 * of its database, and must not rebuild or expire the pools of tests running beside it.
 */

const CAP = 20;
const TEAMS = [
  { team: 'red', reserved: 5, max: 10 },
  { team: 'blue', reserved: 0, max: 6 },
];
const CEILINGS = Object.fromEntries(TEAMS.map((t) => [t.team, t.max]));
const WAITING_SHARE = 0.2;
const LEASE_SECONDS = 5;
const SWEEP_MS = 500;

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** The load pool of a world: 20 principals, 6 of team red and 6 of team blue. */
function setUp(world: World, api: ApiProcess): Promise<LoadPool> {
  return setUpLoadPool(api, world.adminKey, {
    cap: CAP,
    apps: LOAD_APPS,
    teams: TEAMS,
    principals: 20,
    teamOf: (i) => (i < 6 ? 'red' : i < 12 ? 'blue' : null),
  });
}

async function recorded(databaseUrl: string, ids: string[]): Promise<Set<string>> {
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  const rows: { id: string }[] = (await pg.query('SELECT id FROM leases WHERE id = ANY($1::uuid[])', [ids])).rows;
  await pg.end();
  return new Set(rows.map((r) => r.id));
}

/** Credits of the open draws in PostgreSQL: a draw with an active lease holds its opener's credits, once. */
async function heldInPostgres(databaseUrl: string, poolId: string): Promise<number> {
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  const rows = (
    await pg.query(
      `SELECT coalesce(sum(cost), 0)::int AS held FROM (
         SELECT max(credits) AS cost FROM leases
         WHERE draw_id IN (SELECT draw_id FROM leases WHERE pool_id = $1 AND state = 'ACTIVE' AND expires_at > now())
         GROUP BY draw_id) draws`,
      [poolId],
    )
  ).rows;
  await pg.end();
  return rows[0].held;
}

/** Redis's in-use figure equals the credits of PostgreSQL's open draws (retried across expiry instants). */
async function storesAgree(store: LeaseStore, databaseUrl: string, poolId: string): Promise<{ redis: number; postgres: number }> {
  let last = { redis: -1, postgres: -2 };
  for (let i = 0; i < 10; i++) {
    await store.sweep(poolId);
    last = { redis: (await store.status(poolId)).inUse, postgres: await heldInPostgres(databaseUrl, poolId) };
    if (last.redis === last.postgres) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

describe('lease promises under load', () => {
  let world: World;

  beforeEach(async () => {
    world = await startWorld();
  });

  afterEach(async () => {
    await world.close();
  });

  /** The world's lease store, as its processes see it (the run's key prefix, the world's Redis). */
  function storeOf(redis: Redis): LeaseStore {
    return new LeaseStore(redis, `${process.env.REDIS_PREFIX}:lease`);
  }

  it('holds the cap, keeps fencing tokens unique and rising, and leaves Redis and PostgreSQL agreeing (3 processes, 100 clients, 20 s)', async () => {
    const apis = await Promise.all([startApi(world.env), startApi(world.env), startApi(world.env)]);
    const worker = await startWorker({ ...world.env, SWEEP_INTERVAL_MS: String(SWEEP_MS) });
    const redis = new Redis(world.redis.url);
    try {
      const setup = await setUp(world, apis[0]);
      const { history, stats } = await runLoad(
        { apis: () => apis, keys: setup.keys, poolId: setup.poolId, apps: setup.appKeys, leaseSeconds: LEASE_SECONDS, waitingShare: WAITING_SHARE },
        { clients: 100, durationMs: 20_000 },
      );
      console.log(`load: ${JSON.stringify(stats)}`);
      // Behaviour, not speed: the pool was contended (some grants, some denials), and no request failed.
      expect(stats.granted).toBeGreaterThan(0);
      expect(stats.denied).toBeGreaterThan(0);
      expect(stats.failed).toBe(0);
      expect(checkHistory(history, { poolId: setup.poolId, cap: CAP, teamCeilings: CEILINGS })).toEqual([]);
      const agreement = await storesAgree(storeOf(redis), world.databaseUrl, setup.poolId);
      expect(agreement.redis).toBe(agreement.postgres);
    } finally {
      redis.disconnect();
      await Promise.all([...apis.map((a) => a.stop()), worker.stop()]);
    }
  }, 120_000);

  it('loses no acknowledged lease when API processes are killed at random, and returns every credit in time', async () => {
    // One process pauses inside every check-out, between the Redis grant and the PostgreSQL record.
    const paused = { pauseCheckoutsMs: 40 };
    let apis: ApiProcess[] = await Promise.all([startApi(world.env, paused), startApi(world.env), startApi(world.env, paused)]);
    const worker = await startWorker({ ...world.env, SWEEP_INTERVAL_MS: String(SWEEP_MS) });
    const redis = new Redis(world.redis.url);
    let kills = 0;
    try {
      const setup = await setUp(world, apis[1]);
      const load = runLoad(
        { apis: () => apis, keys: setup.keys, poolId: setup.poolId, apps: setup.appKeys, leaseSeconds: LEASE_SECONDS, waitingShare: WAITING_SHARE },
        { clients: 100, durationMs: 24_000 },
      );
      const killer = (async () => {
        for (let i = 0; i < 10; i++) {
          await new Promise((r) => setTimeout(r, 900 + Math.random() * 700));
          const victimIndex = Math.random() < 0.7 ? (Math.random() < 0.5 ? 0 : 2) : 1;
          const victim = apis[victimIndex];
          apis = apis.filter((a) => a !== victim);
          victim.signal('SIGKILL');
          await victim.exited;
          kills += 1;
          const replacement = await startApi(world.env, victimIndex === 1 ? {} : paused);
          apis = [...apis, replacement];
        }
      })();
      const [{ history, stats, acknowledged }] = await Promise.all([load, killer]);
      console.log(`crash: ${kills} kills, ${JSON.stringify(stats)}`);
      expect(kills).toBeGreaterThanOrEqual(10);
      expect(stats.granted).toBeGreaterThan(0);
      const inPostgres = await recorded(world.databaseUrl, acknowledged);
      expect(acknowledged.filter((id) => !inPostgres.has(id))).toEqual([]);
      expect(checkHistory(history, { poolId: setup.poolId, cap: CAP, teamCeilings: CEILINGS })).toEqual([]);
      // Published return time: lease length + sweep interval (+ 1 s margin for this test).
      const store = storeOf(redis);
      const back = await waitUntil(async () => (await store.status(setup.poolId)).inUse === 0, (LEASE_SECONDS + 3) * 1000);
      expect(back).toBe(true);
      expect(await heldInPostgres(world.databaseUrl, setup.poolId)).toBe(0);
    } finally {
      redis.disconnect();
      await Promise.all([...apis.map((a) => a.stop()), worker.stop()]);
    }
  }, 150_000);

  it('fails closed while Redis loses its data, rebuilds from PostgreSQL, and keeps the cap and rising tokens', async () => {
    const apis = await Promise.all([startApi(world.env), startApi(world.env), startApi(world.env)]);
    const worker = await startWorker({ ...world.env, SWEEP_INTERVAL_MS: String(SWEEP_MS) });
    let restarted: Spawned | null = null;
    const control = new Redis(world.redis.url, { maxRetriesPerRequest: 1 });
    control.on('error', () => undefined);
    try {
      const setup = await setUp(world, apis[0]);
      const load = runLoad(
        { apis: () => apis, keys: setup.keys, poolId: setup.poolId, apps: setup.appKeys, leaseSeconds: LEASE_SECONDS, waitingShare: WAITING_SHARE },
        { clients: 100, durationMs: 20_000 },
      );
      const chaos = (async () => {
        await new Promise((r) => setTimeout(r, 5000));
        await control.flushall();
        await new Promise((r) => setTimeout(r, 5000));
        await world.redis.server.stop();
        await new Promise((r) => setTimeout(r, 500));
        restarted = (await startPrivateRedis([], world.redis.port)).server;
      })();
      const [{ history, stats }] = await Promise.all([load, chaos]);
      console.log(`redis loss: ${JSON.stringify(stats)}`);
      expect(stats.unavailable).toBeGreaterThan(0);
      expect(stats.granted).toBeGreaterThan(0);
      expect(checkHistory(history, { poolId: setup.poolId, cap: CAP, teamCeilings: CEILINGS })).toEqual([]);
      const agreement = await storesAgree(storeOf(control), world.databaseUrl, setup.poolId);
      expect(agreement.redis).toBe(agreement.postgres);
    } finally {
      control.disconnect();
      await Promise.all([...apis.map((a) => a.stop()), worker.stop()]);
      await (restarted as Spawned | null)?.stop();
    }
  }, 150_000);
});
