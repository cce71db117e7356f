import Redis from 'ioredis';
import { Client } from 'pg';
import { LeaseStore } from '../../src/lease-engine/lease-store';
import { TestApp } from '../support/app';
import { checkHistory } from '../support/history-checker';
import { createLoadPool, LOAD_APPS, runLoad } from '../support/load';
import { rollBackPool, snapshotPool } from '../support/pool-snapshot';
import { ApiProcess, Spawned, startApi, startPrivateRedis } from '../support/processes';

/**
 * A Redis that goes back in time under load (issue 13): a private Redis, three API processes
 * and a contended pool; the pool's keys are dumped, more leases are granted and acknowledged,
 * and the dump is restored over them at once (RESTORE ... REPLACE), as a failover to a
 * replica that missed those writes, or a restore of that snapshot, would leave it. The epoch
 * survives, so only the fencing tokens show it. No worker runs: it would sweep the other test
 * files' pools of this run's database.
 */

const CAP = 20;
const LEASE_SECONDS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function query<T>(sql: string, params: unknown[]): Promise<T[]> {
  const pg = new Client({ connectionString: process.env.DATABASE_URL });
  await pg.connect();
  try {
    return (await pg.query(sql, params)).rows as T[];
  } finally {
    await pg.end();
  }
}

const epochOf = async (poolId: string) => BigInt((await query<{ epoch: string }>('SELECT epoch::text AS epoch FROM pools WHERE id = $1', [poolId]))[0].epoch);

/** Credits of the open draws in PostgreSQL: a draw with an active lease holds its opener's credits, once. */
async function heldInPostgres(poolId: string): Promise<number> {
  const rows = await query<{ held: number }>(
    `SELECT coalesce(sum(cost), 0)::int AS held FROM (
       SELECT max(credits) AS cost FROM leases
       WHERE draw_id IN (SELECT draw_id FROM leases WHERE pool_id = $1 AND state = 'ACTIVE' AND expires_at > now())
       GROUP BY draw_id) draws`,
    [poolId],
  );
  return rows[0].held;
}

describe('a Redis that goes back in time under load', () => {
  it('never lets an acknowledged lease be over the cap, and keeps fencing tokens unique and rising', async () => {
    const t = await TestApp.start();
    const redisServer = await startPrivateRedis();
    // Restored leases get a grace as long as a lease, so the pool drains soon after the load.
    const env = { REDIS_URL: redisServer.url, REBUILD_GRACE_SECONDS: String(LEASE_SECONDS) };
    const apis: ApiProcess[] = await Promise.all([startApi(env), startApi(env), startApi(env)]);
    const control = new Redis(redisServer.url);
    try {
      const pool = await createLoadPool(t, apis[0], { cap: CAP, apps: LOAD_APPS, principals: 20 });
      const store = new LeaseStore(control, `${process.env.REDIS_PREFIX}:lease`);
      const base = store.keys(pool.poolId).base;
      const chaos = (async () => {
        await sleep(3_000);
        const snapshot = await snapshotPool(control, base);
        await sleep(2_000);
        const epoch = await epochOf(pool.poolId);
        const grantsBefore = (await query<{ n: number }>('SELECT count(*)::int AS n FROM leases WHERE pool_id = $1', [pool.poolId]))[0].n;
        await rollBackPool(control, base, snapshot);
        return { epoch, grantsBefore, at: Date.now() };
      })();
      // Load until 9 s after the rollback, however late it came: the pool must grant again.
      const load = runLoad(
        { apis: () => apis, keys: pool.keys, poolId: pool.poolId, apps: pool.appKeys, leaseSeconds: LEASE_SECONDS, waitingShare: 0.2 },
        { clients: 60, durationMs: 14_000, until: chaos.then((r) => r.at + 9_000) },
      );
      const [{ history, stats }, rolledBack] = await Promise.all([load, chaos]);
      console.log(`rollback: ${JSON.stringify(stats)}`);

      expect(stats.failed).toBe(0);
      expect(checkHistory(history, { poolId: pool.poolId, cap: CAP })).toEqual([]);
      // The rollback was seen (the epoch was raised), and the pool kept granting after it.
      expect(await epochOf(pool.poolId)).toBeGreaterThan(rolledBack.epoch);
      expect(rolledBack.grantsBefore).toBeGreaterThan(0);
      expect(history.grants.filter((g) => g.requestedAt > rolledBack.at + 1_000).length).toBeGreaterThan(0);
      // What Redis holds is what PostgreSQL records (retried across expiry instants).
      let agreement = { redis: -1, postgres: -2 };
      for (let i = 0; i < 10 && agreement.redis !== agreement.postgres; i++) {
        await store.sweep(pool.poolId);
        agreement = { redis: (await store.status(pool.poolId)).inUse, postgres: await heldInPostgres(pool.poolId) };
        if (agreement.redis !== agreement.postgres) await sleep(100);
      }
      expect(agreement.redis).toBe(agreement.postgres);
    } finally {
      control.disconnect();
      await Promise.all(apis.map((a: Spawned) => a.stop()));
      await redisServer.server.stop();
      await t.close();
    }
  }, 120_000);
});
