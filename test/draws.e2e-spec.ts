import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { LeaseDrawsService } from '../src/leases/lease-draws.service';
import { LeaseSweepService } from '../src/leases/lease-sweep.service';
import { WorkerModule } from '../src/worker.module';
import { TestApp } from './support/app';
import { CHECKIN, CHECKOUT, createPool, HEARTBEAT, LeaseShape } from './support/catalog';

interface DrawRow {
  id: string;
  opener_lease_id: string;
  credits: number;
  credit_seconds: string;
  charged_credit_seconds: string;
  idle_credit_seconds: string;
  source: string;
}

/** Ended draws are recorded once each, by the worker, with the minimum charge and the idle part. */
describe('ended draws', () => {
  let t: TestApp;
  let worker: INestApplicationContext;
  let adminKey: string;
  let db: DataSource;

  beforeAll(async () => {
    t = await TestApp.start();
    worker = await NestFactory.createApplicationContext(WorkerModule, { logger: false });
    db = t.app.get(DataSource);
    ({ adminKey } = await t.organization('draws'));
  });

  afterAll(async () => {
    await worker.close();
    await t.close();
  });

  const checkout = async (key: string, input: Record<string, unknown>) => (await t.gql<{ checkout: LeaseShape }>(key, CHECKOUT, { input })).data!.checkout;
  const drawsOf = (poolId: string): Promise<DrawRow[]> => db.query('SELECT * FROM lease_draws WHERE pool_id = $1 ORDER BY opened_at', [poolId]);
  const sweep = () => worker.get(LeaseSweepService).sweepAll();

  it('charges a short draw the app minimum and records it once however often the sweep runs', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'solver', cost: 5, minimumChargeSeconds: 600 }] });
    const user = await t.principalWithKey(adminKey, 'CLIENT');
    const lease = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('solver') });
    await t.gql(user.key, CHECKIN, { id: lease.id });
    await sweep();
    await sweep();
    const draws = await drawsOf(pool.poolId);
    expect(draws).toHaveLength(1);
    expect(draws[0]).toMatchObject({ opener_lease_id: lease.id, credits: 5, source: 'stream' });
    expect(Number(draws[0].credit_seconds)).toBeLessThan(5 * 60);
    expect(Number(draws[0].charged_credit_seconds)).toBe(3000);
  });

  it('records one draw for three sharing leases, charged to the lease that opened it, only after the last ends', async () => {
    const pool = await createPool(t, adminKey, { cap: 50, apps: [{ key: 'hypermesh', cost: 21, shareScope: 'PRINCIPAL' }] });
    const user = await t.principalWithKey(adminKey, 'CLIENT');
    const leases = [];
    for (let i = 0; i < 3; i++) leases.push(await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('hypermesh') }));
    await t.gql(user.key, CHECKIN, { id: leases[0].id });
    await t.gql(user.key, CHECKIN, { id: leases[1].id });
    await sweep();
    expect(await drawsOf(pool.poolId)).toHaveLength(0);
    await t.gql(user.key, CHECKIN, { id: leases[2].id });
    await sweep();
    const draws = await drawsOf(pool.poolId);
    expect(draws).toHaveLength(1);
    expect(draws[0]).toMatchObject({ opener_lease_id: leases[0].id, credits: 21 });
  });

  it('records the idle part the holder reported', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'viewer', cost: 6 }] });
    const user = await t.principalWithKey(adminKey, 'CLIENT');
    const lease = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('viewer') });
    await new Promise((r) => setTimeout(r, 300));
    await t.gql(user.key, HEARTBEAT, { id: lease.id, idle: true });
    await new Promise((r) => setTimeout(r, 300));
    await t.gql(user.key, CHECKIN, { id: lease.id });
    await sweep();
    const [draw] = await drawsOf(pool.poolId);
    // Idle from the check-out (the heartbeat before the idle report) to the check-in: the whole draw.
    expect(Number(draw.idle_credit_seconds)).toBeGreaterThan(0);
    expect(Number(draw.idle_credit_seconds)).toBeCloseTo(Number(draw.credit_seconds), 1);
  });

  it('reconciles a draw the lease store never reported, and the late report does not charge it again', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'cad', cost: 3 }] });
    const user = await t.principalWithKey(adminKey, 'CLIENT');
    const lease = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('cad') });
    await t.gql(user.key, CHECKIN, { id: lease.id });
    // As if the draw had ended ten minutes ago and its event had been lost.
    await db.query(`UPDATE leases SET acquired_at = acquired_at - interval '10 minutes', ended_at = ended_at - interval '10 minutes' WHERE id = $1`, [lease.id]);
    expect(await worker.get(LeaseDrawsService).reconcile(pool.poolId)).toBe(1);
    await sweep();
    const draws = await drawsOf(pool.poolId);
    expect(draws).toHaveLength(1);
    expect(draws[0].source).toBe('reconciled');
  });

  it('reconciles nothing while a draw still has an active lease', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'cad2', cost: 3, shareScope: 'PRINCIPAL' }] });
    const user = await t.principalWithKey(adminKey, 'CLIENT');
    const first = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('cad2') });
    await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('cad2') });
    await t.gql(user.key, CHECKIN, { id: first.id });
    await db.query(`UPDATE leases SET acquired_at = acquired_at - interval '10 minutes', ended_at = ended_at - interval '10 minutes' WHERE id = $1`, [first.id]);
    expect(await worker.get(LeaseDrawsService).reconcile(pool.poolId)).toBe(0);
  });
});
