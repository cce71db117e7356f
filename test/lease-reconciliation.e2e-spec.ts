import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { RedisService } from '../src/common/redis/redis.service';
import { LeaseStore } from '../src/lease-engine/lease-store';
import { LeaseSweepService } from '../src/leases/lease-sweep.service';
import { WorkerModule } from '../src/worker.module';
import { TestApp } from './support/app';
import { CHECKOUT, createPool, LeaseShape } from './support/catalog';

/**
 * The sweep's reconciliation ends and charges from PostgreSQL what Redis dropped without a
 * recorded event, and asks Redis first: what Redis still holds stays active.
 */
describe('lease reconciliation', () => {
  let t: TestApp;
  let worker: INestApplicationContext;
  let db: DataSource;
  let store: LeaseStore;
  let adminKey: string;

  beforeAll(async () => {
    t = await TestApp.start();
    worker = await NestFactory.createApplicationContext(WorkerModule, { logger: false });
    db = t.app.get(DataSource);
    store = t.app.get(LeaseStore);
    ({ adminKey } = await t.organization('reconcile'));
  });

  afterAll(async () => {
    await worker.close();
    await t.close();
  });

  const checkout = async (key: string, input: Record<string, unknown>) => (await t.gql<{ checkout: LeaseShape }>(key, CHECKOUT, { input })).data!.checkout;
  const leaseRow = async (id: string): Promise<{ state: string; ended_at: Date | null; expires_at: Date }> =>
    (await db.query('SELECT state, ended_at, expires_at FROM leases WHERE id = $1', [id]))[0];
  const licenseRows = async (leaseId: string): Promise<{ source: string }[]> =>
    db.query(`SELECT d.source FROM ledger_entries e JOIN lease_draws d ON d.id = e.draw_id WHERE e.kind = 'LICENSE' AND e.lease_id = $1`, [leaseId]);

  /** Redis drops the lease and its draw as an expiry or a check-in would, but the event is lost: no stream entry. */
  async function dropWithoutEvent(poolId: string, lease: LeaseShape): Promise<void> {
    const keys = store.keys(poolId);
    await t.app
      .get(RedisService)
      .client.multi()
      .zrem(keys.leases, lease.id)
      .hdel(keys.state, `l|${lease.id}`, `d|${lease.id}`)
      .hincrby(keys.state, 'used', -lease.credits)
      .exec();
  }

  /** A sweep of the pool with its reconciliation pass, as the schedule runs one every 15 sweeps. */
  const reconcile = (poolId: string) => worker.get(LeaseSweepService).sweepPools([poolId]);

  it("expires and charges a lease whose expiry event was lost, and leaves active one that Redis holds although PostgreSQL's expiry lags", async () => {
    const pool = await createPool(t, adminKey, {
      cap: 10,
      apps: [
        { key: 'lost', cost: 2 },
        { key: 'held', cost: 3 },
      ],
    });
    const user = await t.principalWithKey(adminKey, 'CLIENT');
    const lost = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('lost'), leaseSeconds: 600 });
    const held = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('held'), leaseSeconds: 600 });
    await dropWithoutEvent(pool.poolId, lost);
    // Both past their expiry in PostgreSQL by more than the rebuild grace (30 s): the first
    // because its expiry passed, the second only because its heartbeats were not written yet.
    await db.query(`UPDATE leases SET acquired_at = now() - interval '3 minutes', expires_at = now() - interval '1 minute' WHERE id = ANY($1::uuid[])`, [
      [lost.id, held.id],
    ]);
    await reconcile(pool.poolId);
    const row = await leaseRow(lost.id);
    expect(row.state).toBe('EXPIRED');
    expect(row.ended_at?.getTime()).toBe(row.expires_at.getTime());
    expect(await licenseRows(lost.id)).toEqual([{ source: 'reconciled' }]);
    expect((await leaseRow(held.id)).state).toBe('ACTIVE');
    expect(await licenseRows(held.id)).toEqual([]);
    expect((await store.holds(pool.poolId, { leaseIds: [held.id] })).leases.has(held.id)).toBe(true);
  });

  it('charges a checked-in draw whose end event was lost at the next reconciliation, not minutes later', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'solver', cost: 4 }] });
    const user = await t.principalWithKey(adminKey, 'CLIENT');
    const lease = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('solver') });
    // The check-in's PostgreSQL step happened; its Redis step's event was lost.
    await db.query(`UPDATE leases SET state = 'RELEASED', ended_at = now(), credit_seconds = 0 WHERE id = $1`, [lease.id]);
    await dropWithoutEvent(pool.poolId, lease);
    await reconcile(pool.poolId);
    expect(await licenseRows(lease.id)).toEqual([{ source: 'reconciled' }]);
  });

  it('does not charge a checked-in draw that still lingers in Redis', async () => {
    const pool = await createPool(t, adminKey, {
      cap: 10,
      apps: [
        { key: 'lingering', cost: 2, lingerSeconds: 600 },
        { key: 'probe', cost: 1 },
      ],
    });
    const user = await t.principalWithKey(adminKey, 'CLIENT');
    const lingering = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('lingering') });
    await t.gql(user.key, 'mutation($id: ID!) { checkin(leaseId: $id) { state } }', { id: lingering.id });
    // A draw whose linger is over in PostgreSQL's eyes (a minute ago), while Redis still lets it linger.
    await db.query(`UPDATE leases SET acquired_at = now() - interval '20 minutes', ended_at = now() - interval '11 minutes' WHERE id = $1`, [lingering.id]);
    // A second draw of the pool, lost: the reconciliation pass charges it, and it alone.
    const probe = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('probe') });
    await db.query(`UPDATE leases SET state = 'RELEASED', ended_at = now() WHERE id = $1`, [probe.id]);
    await dropWithoutEvent(pool.poolId, probe);
    await reconcile(pool.poolId);
    expect(await licenseRows(probe.id)).toEqual([{ source: 'reconciled' }]);
    expect(await licenseRows(lingering.id)).toEqual([]);
  });
});
