import Redis from 'ioredis';
import { Client } from 'pg';
import { LeaseStore } from '../../src/lease-engine/lease-store';
import { TestApp } from '../support/app';
import { CHECKIN, CHECKOUT, createPool } from '../support/catalog';
import { ApiProcess, startApi, startTcpProxy, waitFor } from '../support/processes';

/**
 * A PostgreSQL outage longer than a lease (issue 13): heartbeats need only Redis and a key
 * verified before the outage, so the leases whose holders keep heartbeating survive it and
 * PostgreSQL's copy of their expiry catches up afterwards; everything that needs a record
 * (a check-out, a key never seen) answers UNAVAILABLE, and a lease that nobody heartbeats
 * still expires. No worker runs here: it would sweep (and rebuild) the other test files'
 * pools of this run's database; the test sweeps its own pool instead.
 */

const LEASE_SECONDS = 6;
const BEAT = 'mutation($id: ID!) { heartbeat(leaseId: $id) { id state expiresAt credits fencingToken leaseSeconds } }';

interface Beat {
  id: string;
  state: string;
  expiresAt: string;
  credits: number;
  fencingToken: string;
  leaseSeconds: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function postgresRows(ids: string[]): Promise<Map<string, { state: string; expiresAt: number }>> {
  const pg = new Client({ connectionString: process.env.DATABASE_URL });
  await pg.connect();
  try {
    const rows: { id: string; state: string; expires_at: Date }[] = (
      await pg.query('SELECT id, state, expires_at FROM leases WHERE id = ANY($1::uuid[])', [ids])
    ).rows;
    return new Map(rows.map((r) => [r.id, { state: r.state, expiresAt: r.expires_at.getTime() }]));
  } finally {
    await pg.end();
  }
}

function proxiedDatabaseUrl(port: number): string {
  const database = new URL(process.env.DATABASE_URL!);
  database.host = `127.0.0.1:${port}`;
  return database.toString();
}

describe('heartbeats through a PostgreSQL outage', () => {
  let t: TestApp;
  let redis: Redis;
  let store: LeaseStore;

  // The in-process app only sets the tenants up; the API processes under test reach PostgreSQL through the proxy.
  beforeAll(async () => {
    t = await TestApp.start();
    redis = new Redis(process.env.REDIS_URL!);
    store = new LeaseStore(redis, `${process.env.REDIS_PREFIX}:lease`);
  });

  afterAll(async () => {
    await redis.quit();
    await t.close();
  });

  it('keeps heartbeated leases ACTIVE in Redis and PostgreSQL, expires the one left alone, and refuses what needs a record', async () => {
    const { adminKey } = await t.organization('postgres-outage');
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'cad', cost: 2 }], defaultLeaseSeconds: LEASE_SECONDS });
    const holder = await t.principalWithKey(adminKey, 'CLIENT', { name: 'holder' });
    const service = await t.principalWithKey(adminKey, 'CLIENT', { name: 'broker', kind: 'SERVICE' });
    const stranger = await t.principalWithKey(adminKey, 'CLIENT', { name: 'stranger' });
    const unseen = await t.principalWithKey(adminKey, 'CLIENT', { name: 'unseen' });

    const proxy = await startTcpProxy(Number(new URL(process.env.DATABASE_URL!).port || 5432));
    let api: ApiProcess | undefined;
    let other: ApiProcess | undefined;
    try {
      api = await startApi({ DATABASE_URL: proxiedDatabaseUrl(proxy.port), API_KEY_CACHE_SECONDS: '1' });
      // A second replica, which serves keys it verified for 4 s of an outage only.
      other = await startApi({ DATABASE_URL: proxiedDatabaseUrl(proxy.port), API_KEY_CACHE_SECONDS: '1', AUTH_STALE_SECONDS: '4' });
      const input = { poolId: pool.poolId, app: pool.keyOf('cad') };
      const checkout = async (key: string, extra: Record<string, unknown> = {}) => {
        const res = await api!.gql(key, CHECKOUT, { input: { ...input, ...extra } });
        if (!res.body.data) throw new Error(JSON.stringify(res.body.errors));
        return res.body.data.checkout as { id: string; expiresAt: string };
      };
      const held = await checkout(holder.key);
      const onBehalf = await checkout(service.key, { onBehalfOf: holder.principalId });
      const dropped = await checkout(holder.key);
      // The stranger's key is verified before the outage; the unseen key never is.
      expect((await api.gql(stranger.key, '{ me { name } }')).body.data).toEqual({ me: { name: 'stranger' } });
      expect((await other.gql(service.key, '{ me { name } }')).body.data).toEqual({ me: { name: 'broker' } });

      await proxy.cut();
      const told = new Map<string, number>([
        [held.id, Date.parse(held.expiresAt)],
        [onBehalf.id, Date.parse(onBehalf.expiresAt)],
      ]);
      // 7 beats 1.5 s apart: the outage outlasts the 6 s lease by half as much again. The
      // SERVICE's first beat goes to the other replica, which finds the lease's card in Redis.
      for (let round = 0; round < 7; round++) {
        await sleep(1500);
        for (const [id, key, via] of [
          [held.id, holder.key, api],
          [onBehalf.id, service.key, round === 0 ? other : api],
        ] as const) {
          const res = await via.gql(key, BEAT, { id });
          expect(res.body.errors).toBeUndefined();
          const beat = res.body.data?.heartbeat as Beat;
          expect(beat).toMatchObject({ id, state: 'ACTIVE', credits: 2, leaseSeconds: LEASE_SECONDS });
          expect(Date.parse(beat.expiresAt)).toBeGreaterThan(told.get(id)!);
          told.set(id, Date.parse(beat.expiresAt));
        }
      }
      // The holder check comes from Redis: another CLIENT of the organization gets NOT_FOUND.
      expect((await api.gql(stranger.key, BEAT, { id: held.id })).body.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
      // What needs PostgreSQL answers UNAVAILABLE: a key it never verified, and a check-out.
      const unseenBeat = await api.gql(unseen.key, BEAT, { id: held.id });
      expect(unseenBeat.status).toBe(503);
      expect(unseenBeat.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAVAILABLE' });
      const refused = await api.gql(holder.key, CHECKOUT, { input });
      expect(refused.body.errors?.[0]?.extensions.code).toBe('UNAVAILABLE');
      // A key served stale passes authentication, and what then needs PostgreSQL answers UNAVAILABLE.
      expect((await api.gql(holder.key, '{ me { name } }')).body.errors?.[0]?.extensions.code).toBe('UNAVAILABLE');
      // Past AUTH_STALE_SECONDS since it was last verified, a key is not served without PostgreSQL.
      const tooStale = await other.gql(service.key, BEAT, { id: onBehalf.id });
      expect(tooStale.status).toBe(503);
      expect(tooStale.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAVAILABLE' });
      // The lease nobody heartbeated ran out during the outage and is never revived.
      const late = await api.gql(holder.key, BEAT, { id: dropped.id });
      expect(late.body.data?.heartbeat ?? null).toBeNull();
      expect(['UNAVAILABLE', 'LEASE_NOT_ACTIVE']).toContain(late.body.errors?.[0]?.extensions.code);
      await store.sweep(pool.poolId);
      expect(await store.status(pool.poolId)).toMatchObject({ inUse: 4, activeLeases: 2 });

      await proxy.restore();
      // PostgreSQL's copy of the expiry catches up with the last one each holder was told.
      const caughtUp = async () => {
        const rows = await postgresRows([held.id, onBehalf.id]);
        return [held.id, onBehalf.id].every((id) => rows.get(id)?.expiresAt === told.get(id));
      };
      await waitFor(caughtUp, 'the expiry write-behind to catch up', 20_000).catch(() => undefined);
      const rows = await postgresRows([held.id, onBehalf.id, dropped.id]);
      expect(rows.get(held.id)).toEqual({ state: 'ACTIVE', expiresAt: told.get(held.id) });
      expect(rows.get(onBehalf.id)).toEqual({ state: 'ACTIVE', expiresAt: told.get(onBehalf.id) });
      expect(rows.get(dropped.id)?.expiresAt).toBe(Date.parse(dropped.expiresAt));

      const lease = async (id: string) => (await api!.gql(adminKey, 'query($id: ID!) { lease(id: $id) { state } }', { id })).body.data?.lease;
      await waitFor(async () => (await lease(held.id)) !== undefined, 'the API to reach PostgreSQL again', 20_000).catch(() => undefined);
      expect(await lease(held.id)).toEqual({ state: 'ACTIVE' });
      expect(await lease(dropped.id)).toEqual({ state: 'EXPIRED' });
      expect((await api.gql(holder.key, BEAT, { id: dropped.id })).body.errors?.[0]?.extensions).toMatchObject({ code: 'LEASE_NOT_ACTIVE', state: 'EXPIRED' });
      expect((await api.gql(holder.key, CHECKIN, { id: held.id })).body.data?.checkin).toMatchObject({ state: 'RELEASED' });
      expect((await api.gql(holder.key, BEAT, { id: held.id })).body.errors?.[0]?.extensions).toMatchObject({ code: 'LEASE_NOT_ACTIVE', state: 'RELEASED' });
    } finally {
      await Promise.all([api?.stop(), other?.stop()]);
      await proxy.cut();
    }
  });

  it('writes the expiry of its last heartbeats to PostgreSQL when it shuts down', async () => {
    const { adminKey } = await t.organization('heartbeat-shutdown');
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'cad', cost: 1 }], defaultLeaseSeconds: 60 });
    const api = await startApi();
    try {
      const res = await api.gql(adminKey, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('cad') } });
      const id = (res.body.data?.checkout as { id: string }).id;
      await sleep(20);
      const beat = (await api.gql(adminKey, BEAT, { id })).body.data?.heartbeat as Beat;
      api.signal('SIGTERM');
      expect(await api.exited).toBe(0);
      expect((await postgresRows([id])).get(id)).toEqual({ state: 'ACTIVE', expiresAt: Date.parse(beat.expiresAt) });
    } finally {
      await api.stop();
    }
  });
});
