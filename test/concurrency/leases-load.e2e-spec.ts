import Redis from 'ioredis';
import { Client } from 'pg';
import { LeaseStore } from '../../src/leases/lease-store';
import { TestApp } from '../support/app';
import { checkHistory } from '../support/history-checker';
import { runLoad } from '../support/load';
import { ApiProcess, Spawned, startApi, startPrivateRedis } from '../support/processes';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/**
 * The promises under load: at least 3 API processes, 100 concurrent clients, random
 * check-outs of apps of several costs against one small pool, heartbeats and check-ins,
 * then crashes (kill -9, some inside a check-out) and a Redis that loses everything. The
 * policies run too: sharing apps (5 clients share each principal's key), two teams with a
 * reservation and ceilings, and a fifth of the check-outs waiting in the fair queue.
 */

const CAP = 20;
const APPS = [
  { key: 'probe', cost: 1, shareScope: 'NONE' },
  { key: 'mesh', cost: 3, shareScope: 'PRINCIPAL' },
  { key: 'cad', cost: 5, shareScope: 'PRINCIPAL_HOST' },
  { key: 'solver', cost: 8, shareScope: 'NONE' },
];
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

function startWorker(env: Record<string, string>): Spawned {
  return new Spawned(
    spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'worker.js')], {
      env: { ...process.env, WORKER_PORT: '0', SWEEP_INTERVAL_MS: String(SWEEP_MS), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

interface Setup {
  adminKey: string;
  poolId: string;
  appKeys: string[];
  keys: { key: string; team: string | null }[];
}

/** An organization with one small pool and 20 principals, created through `api`. */
async function setUp(t: TestApp, api: ApiProcess): Promise<Setup> {
  const { adminKey } = await t.organization('load');
  const pool = await api.gql(adminKey, 'mutation { createPool(input: { name: "small", cap: 20 }) { id } }');
  const poolId = (pool.body.data?.createPool as { id: string }).id;
  const appKeys: string[] = [];
  for (const app of APPS) {
    const key = `${app.key}-${poolId.slice(0, 8)}`;
    await api.gql(adminKey, 'mutation($input: CreateAppInput!) { createApp(input: $input) { id } }', { input: { poolId, key, name: app.key, cost: app.cost, shareScope: app.shareScope } });
    appKeys.push(key);
  }
  for (const limit of TEAMS) await api.gql(adminKey, 'mutation($input: GroupLimitInput!) { setGroupLimit(input: $input) { team } }', { input: { poolId, ...limit } });
  const keys = [];
  for (let i = 0; i < 20; i++) {
    const team = i < 6 ? 'red' : i < 12 ? 'blue' : null;
    keys.push({ ...(await t.principalWithKey(adminKey, 'CLIENT', { name: `agent-${i}`, kind: 'AGENT', team: team ?? undefined })), team });
  }
  return { adminKey, poolId, appKeys, keys };
}

async function recorded(ids: string[]): Promise<Set<string>> {
  const pg = new Client({ connectionString: process.env.DATABASE_URL });
  await pg.connect();
  const rows: { id: string }[] = (await pg.query('SELECT id FROM leases WHERE id = ANY($1::uuid[])', [ids])).rows;
  await pg.end();
  return new Set(rows.map((r) => r.id));
}

/** Credits of the open draws in PostgreSQL: a draw with an active lease holds its opener's credits, once. */
async function heldInPostgres(poolId: string): Promise<number> {
  const pg = new Client({ connectionString: process.env.DATABASE_URL });
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
async function storesAgree(store: LeaseStore, poolId: string): Promise<{ redis: number; postgres: number }> {
  let last = { redis: -1, postgres: -2 };
  for (let i = 0; i < 10; i++) {
    await store.sweep(poolId);
    last = { redis: (await store.status(poolId)).inUse, postgres: await heldInPostgres(poolId) };
    if (last.redis === last.postgres) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

describe('lease promises under load', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await TestApp.start();
  });

  afterAll(async () => {
    await t.close();
  });

  it('holds the cap, keeps fencing tokens unique and rising, and leaves Redis and PostgreSQL agreeing (3 processes, 100 clients, 20 s)', async () => {
    const apis = await Promise.all([startApi(), startApi(), startApi()]);
    const worker = startWorker({});
    const redis = new Redis(process.env.REDIS_URL!);
    try {
      const setup = await setUp(t, apis[0]);
      const { history, stats } = await runLoad({ apis: () => apis, keys: setup.keys, poolId: setup.poolId, apps: setup.appKeys, leaseSeconds: LEASE_SECONDS, waitingShare: WAITING_SHARE }, { clients: 100, durationMs: 20_000 });
      console.log(`load: ${JSON.stringify(stats)}`);
      // Behaviour, not speed: the pool was contended (some grants, some denials), and no request failed.
      expect(stats.granted).toBeGreaterThan(0);
      expect(stats.denied).toBeGreaterThan(0);
      expect(stats.failed).toBe(0);
      expect(checkHistory(history, { poolId: setup.poolId, cap: CAP, teamCeilings: CEILINGS })).toEqual([]);
      const store = new LeaseStore(redis, `${process.env.REDIS_PREFIX}:lease`);
      const agreement = await storesAgree(store, setup.poolId);
      expect(agreement.redis).toBe(agreement.postgres);
    } finally {
      redis.disconnect();
      await Promise.all([...apis.map((a) => a.stop()), worker.stop()]);
    }
  }, 120_000);

  it('loses no acknowledged lease when API processes are killed at random, and returns every credit in time', async () => {
    // One process pauses inside every check-out, between the Redis grant and the PostgreSQL record.
    const paused = { pauseCheckoutsMs: 40 };
    let apis: ApiProcess[] = await Promise.all([startApi({}, paused), startApi(), startApi({}, paused)]);
    const worker = startWorker({});
    const redis = new Redis(process.env.REDIS_URL!);
    let kills = 0;
    try {
      const setup = await setUp(t, apis[1]);
      const load = runLoad({ apis: () => apis, keys: setup.keys, poolId: setup.poolId, apps: setup.appKeys, leaseSeconds: LEASE_SECONDS, waitingShare: WAITING_SHARE }, { clients: 100, durationMs: 24_000 });
      const killer = (async () => {
        for (let i = 0; i < 10; i++) {
          await new Promise((r) => setTimeout(r, 900 + Math.random() * 700));
          const victimIndex = Math.random() < 0.7 ? (Math.random() < 0.5 ? 0 : 2) : 1;
          const victim = apis[victimIndex];
          apis = apis.filter((a) => a !== victim);
          victim.signal('SIGKILL');
          await victim.exited;
          kills += 1;
          const replacement = await startApi({}, victimIndex === 1 ? {} : paused);
          apis = [...apis, replacement];
        }
      })();
      const [{ history, stats, acknowledged }] = await Promise.all([load, killer]);
      console.log(`crash: ${kills} kills, ${JSON.stringify(stats)}`);
      expect(kills).toBeGreaterThanOrEqual(10);
      expect(stats.granted).toBeGreaterThan(0);
      const inPostgres = await recorded(acknowledged);
      expect(acknowledged.filter((id) => !inPostgres.has(id))).toEqual([]);
      expect(checkHistory(history, { poolId: setup.poolId, cap: CAP, teamCeilings: CEILINGS })).toEqual([]);
      // Published return time: lease length + sweep interval (+ 1 s margin for this test).
      const store = new LeaseStore(redis, `${process.env.REDIS_PREFIX}:lease`);
      const back = await waitUntil(async () => (await store.status(setup.poolId)).inUse === 0, (LEASE_SECONDS + 3) * 1000);
      expect(back).toBe(true);
      expect(await heldInPostgres(setup.poolId)).toBe(0);
    } finally {
      redis.disconnect();
      await Promise.all([...apis.map((a) => a.stop()), worker.stop()]);
    }
  }, 150_000);

  it('fails closed while Redis loses its data, rebuilds from PostgreSQL, and keeps the cap and rising tokens', async () => {
    const redisServer = await startPrivateRedis();
    const env = { REDIS_URL: redisServer.url };
    const apis = await Promise.all([startApi(env), startApi(env), startApi(env)]);
    const worker = startWorker(env);
    let restarted: Spawned | null = null;
    const control = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
    control.on('error', () => undefined);
    try {
      const setup = await setUp(t, apis[0]);
      const load = runLoad({ apis: () => apis, keys: setup.keys, poolId: setup.poolId, apps: setup.appKeys, leaseSeconds: LEASE_SECONDS, waitingShare: WAITING_SHARE }, { clients: 100, durationMs: 20_000 });
      const chaos = (async () => {
        await new Promise((r) => setTimeout(r, 5000));
        await control.flushall();
        await new Promise((r) => setTimeout(r, 5000));
        await redisServer.server.stop();
        await new Promise((r) => setTimeout(r, 500));
        restarted = (await startPrivateRedis([], redisServer.port)).server;
      })();
      const [{ history, stats }] = await Promise.all([load, chaos]);
      console.log(`redis loss: ${JSON.stringify(stats)}`);
      expect(stats.unavailable).toBeGreaterThan(0);
      expect(stats.granted).toBeGreaterThan(0);
      expect(checkHistory(history, { poolId: setup.poolId, cap: CAP, teamCeilings: CEILINGS })).toEqual([]);
      const store = new LeaseStore(control, `${process.env.REDIS_PREFIX}:lease`);
      const agreement = await storesAgree(store, setup.poolId);
      expect(agreement.redis).toBe(agreement.postgres);
    } finally {
      control.disconnect();
      await Promise.all([...apis.map((a) => a.stop()), worker.stop()]);
      await (restarted as Spawned | null)?.stop();
      await redisServer.server.stop();
    }
  }, 150_000);
});
