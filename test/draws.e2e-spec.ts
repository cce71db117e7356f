import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { RedisService } from '../src/common/redis/redis.service';
import { LeaseDrawsService } from '../src/leases/lease-draws.service';
import { PoolStateService } from '../src/leases/pool-state.service';
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

  it('leaves every ended draw recorded when a sweep returns, even with another sweep reading the same events beside it', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'raced', cost: 1 }] });
    const user = await t.principalWithKey(adminKey, 'CLIENT');
    const sweeper = worker.get(LeaseSweepService);
    const recorded = async (leaseId: string) => (await db.query('SELECT 1 FROM lease_draws WHERE opener_lease_id = $1', [leaseId])).length === 1;
    const seen: boolean[] = [];
    for (let round = 0; round < 10; round++) {
      const lease = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('raced') });
      await t.gql(user.key, CHECKIN, { id: lease.id });
      // Two sweeps of the stream only (the reconciliation pass would also find the draw):
      // whichever returns first, the draw is recorded by then.
      const sweep = () => sweeper.sweepPools([pool.poolId], { reconcile: false }).then(() => recorded(lease.id));
      seen.push(...(await Promise.all([sweep(), sweep()])));
    }
    expect(seen).toEqual(Array(20).fill(true));
    expect(await drawsOf(pool.poolId)).toHaveLength(10);
  });

  it('charges the draw to the ledger once, on the work unit of the lease that opened it, at the pool price', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'agent-tool', cost: 2, shareScope: 'WORK_UNIT', minimumChargeSeconds: 1800 }] });
    const agent = await t.principalWithKey(adminKey, 'CLIENT', { kind: 'AGENT' });
    const unit = (await t.gql<{ upsertWorkUnit: { id: string } }>(agent.key, 'mutation { upsertWorkUnit(input: { externalRef: "ticket-77" }) { id } }')).data!
      .upsertWorkUnit;
    const leases = [];
    for (let i = 0; i < 3; i++) leases.push(await checkout(agent.key, { poolId: pool.poolId, app: pool.keyOf('agent-tool'), workUnitId: unit.id }));
    const read = await t.gql<{ lease: { workUnit: { id: string } } }>(agent.key, 'query($id: ID!) { lease(id: $id) { workUnit { id } } }', {
      id: leases[1].id,
    });
    expect(read.data!.lease.workUnit.id).toBe(unit.id);
    for (const lease of leases) await t.gql(agent.key, CHECKIN, { id: lease.id });
    await sweep();
    await sweep();
    const rows: { kind: string; lease_id: string; credit_seconds: string; cost: string; cost_source: string }[] = await db.query(
      'SELECT kind, lease_id, credit_seconds, cost, cost_source FROM ledger_entries WHERE work_unit_id = $1',
      [unit.id],
    );
    // One draw of 2 credits, charged the 30-minute minimum: 3,600 credit-seconds = 1 credit-hour at 1.5.
    expect(rows).toEqual([{ kind: 'LICENSE', lease_id: leases[0].id, credit_seconds: '3600.000', cost: expect.any(String), cost_source: 'PRICE_TABLE' }]);
    expect(Number(rows[0].cost)).toBeCloseTo(1.5, 6);
    const totals = await t.gql<{ workUnit: { licenseCreditHours: number; licenseCost: number } }>(
      agent.key,
      'query($id: ID!) { workUnit(id: $id) { licenseCreditHours licenseCost } }',
      { id: unit.id },
    );
    expect(totals.data!.workUnit).toEqual({ licenseCreditHours: 1, licenseCost: 1.5 });
  });

  it("charges a revoked lease's draw to the ledger like any other end", async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'harvested', cost: 4 }] });
    const user = await t.principalWithKey(adminKey, 'CLIENT');
    const lease = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('harvested') });
    await t.gql(adminKey, 'mutation($id: ID!) { revokeLease(leaseId: $id, reason: "harvest") { state } }', { id: lease.id });
    await sweep();
    const rows: { kind: string }[] = await db.query('SELECT kind FROM ledger_entries WHERE lease_id = $1', [lease.id]);
    expect(rows).toEqual([{ kind: 'LICENSE' }]);
  });

  it("charges a draw restored after Redis lost the pool's state once", async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'restored', cost: 3 }] });
    const user = await t.principalWithKey(adminKey, 'CLIENT');
    const lease = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('restored') });
    // Redis loses the pool's state (its events stream survives); the rebuild restores the lease and its draw.
    const redis = t.app.get(RedisService).client;
    await redis.del(`${process.env.REDIS_PREFIX}:lease:{pool:${pool.poolId}}:state`, `${process.env.REDIS_PREFIX}:lease:{pool:${pool.poolId}}:leases`);
    expect(await t.app.get(PoolStateService).ensure(pool.poolId)).toBe(true);
    await t.gql(user.key, CHECKIN, { id: lease.id });
    await sweep();
    await db.query(`UPDATE leases SET acquired_at = acquired_at - interval '10 minutes', ended_at = ended_at - interval '10 minutes' WHERE id = $1`, [
      lease.id,
    ]);
    await worker.get(LeaseDrawsService).reconcile(pool.poolId);
    const rows: { kind: string }[] = await db.query('SELECT kind FROM ledger_entries WHERE lease_id = $1', [lease.id]);
    expect(rows).toEqual([{ kind: 'LICENSE' }]);
  });

  it('rebuilds a shared draw whose opener ended with its full credits, still charged to the opener', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'shared', cost: 5, shareScope: 'PRINCIPAL' }] });
    const user = await t.principalWithKey(adminKey, 'CLIENT');
    const opener = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('shared') });
    const joiner = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('shared') });
    await t.gql(user.key, CHECKIN, { id: opener.id });
    const redis = t.app.get(RedisService).client;
    await redis.del(`${process.env.REDIS_PREFIX}:lease:{pool:${pool.poolId}}:state`, `${process.env.REDIS_PREFIX}:lease:{pool:${pool.poolId}}:leases`);
    expect(await t.app.get(PoolStateService).ensure(pool.poolId)).toBe(true);
    const figures = await t.gql<{ pool: { inUse: number } }>(adminKey, 'query($id: ID!) { pool(id: $id) { inUse } }', { id: pool.poolId });
    expect(figures.data!.pool.inUse).toBe(5);
    await t.gql(user.key, CHECKIN, { id: joiner.id });
    await sweep();
    const rows: { lease_id: string }[] = await db.query('SELECT lease_id FROM ledger_entries WHERE draw_id = $1', [opener.id]);
    expect(rows).toEqual([{ lease_id: opener.id }]);
  });

  it("refuses a check-out for a work unit that is not the organization's", async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'x', cost: 1 }] });
    const refused = await t.gql(adminKey, CHECKOUT, {
      input: { poolId: pool.poolId, app: pool.keyOf('x'), workUnitId: '6f1c2b9e-0000-4000-8000-000000000001' },
    });
    expect(refused.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'input.workUnitId' });
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
    // Idle from the check-out (the last contact before the idle report) to the check-in: at
    // least the 300 ms slept after the report, at most the whole draw.
    expect(Number(draw.idle_credit_seconds)).toBeGreaterThanOrEqual(6 * 0.29);
    expect(Number(draw.idle_credit_seconds)).toBeLessThanOrEqual(Number(draw.credit_seconds));
  });

  it('reconciles a draw the lease store never reported, and the late report does not charge it again', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'cad', cost: 3 }] });
    const user = await t.principalWithKey(adminKey, 'CLIENT');
    const lease = await checkout(user.key, { poolId: pool.poolId, app: pool.keyOf('cad') });
    await t.gql(user.key, CHECKIN, { id: lease.id });
    // As if the draw had ended ten minutes ago and its event had been lost.
    await db.query(`UPDATE leases SET acquired_at = acquired_at - interval '10 minutes', ended_at = ended_at - interval '10 minutes' WHERE id = $1`, [
      lease.id,
    ]);
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
    await db.query(`UPDATE leases SET acquired_at = acquired_at - interval '10 minutes', ended_at = ended_at - interval '10 minutes' WHERE id = $1`, [
      first.id,
    ]);
    expect(await worker.get(LeaseDrawsService).reconcile(pool.poolId)).toBe(0);
  });
});
