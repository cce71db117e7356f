import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { LeaseStore } from '../../src/lease-engine/lease-store';
import { LeaseSweepService } from '../../src/leases/lease-sweep.service';
import { WorkerModule } from '../../src/worker.module';
import { TestApp } from '../support/app';
import { CHECKIN, CHECKOUT, createPool } from '../support/catalog';
import { ApiProcess, startApi, startTcpProxy, waitFor } from '../support/processes';

/**
 * An idempotent check-out retried after its first attempt failed between the Redis grant and
 * the PostgreSQL record (issue 13), against API processes held at that step by the test-only
 * entrypoint: a PostgreSQL write that fails, and a process killed there. The lease id comes
 * from the idempotency key, so the retry may be granted the same lease id again; its draw
 * must still be its own.
 */

interface LeaseRow {
  id: string;
  draw_id: string;
  acquired_at: Date;
}

interface DrawRow {
  id: string;
  opened_at: Date;
  ended_at: Date;
}

function proxiedDatabaseUrl(port: number): string {
  const database = new URL(process.env.DATABASE_URL!);
  database.host = `127.0.0.1:${port}`;
  return database.toString();
}

describe('an idempotent check-out retried after a failure in the middle of it', () => {
  let t: TestApp;
  let db: DataSource;
  let adminKey: string;

  beforeAll(async () => {
    t = await TestApp.start();
    db = t.app.get(DataSource);
    ({ adminKey } = await t.organization('checkout-retry'));
  });

  afterAll(async () => {
    await t.close();
  });

  /** The pool holds a lease in Redis: a check-out held between its grant and its record got this far. */
  const granted = (poolId: string) => async () => (await t.app.get(LeaseStore).status(poolId)).activeLeases === 1;

  it('charges both draws as they were when the first PostgreSQL write failed: the retry’s draw with its own times', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'cad', cost: 2, minimumChargeSeconds: 0 }] });
    const client = await t.principalWithKey(adminKey, 'CLIENT', { name: 'retrier' });
    const input = { poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 60, idempotencyKey: 'job-pg-cut' };
    const proxy = await startTcpProxy(Number(new URL(process.env.DATABASE_URL!).port || 5432));
    let api: ApiProcess | undefined;
    let worker: INestApplicationContext | undefined;
    try {
      api = await startApi({ DATABASE_URL: proxiedDatabaseUrl(proxy.port) }, { pauseCheckoutsMs: 1_000 });
      const first = api.gql(client.key, CHECKOUT, { input });
      await waitFor(granted(pool.poolId), 'the first attempt to be granted in Redis');
      await proxy.cut();
      expect((await first).body.errors?.[0]?.extensions.code).toBe('UNAVAILABLE');
      await proxy.restore();

      let lease: { id: string } | undefined;
      await waitFor(
        async () => (lease = (await api!.gql(client.key, CHECKOUT, { input })).body.data?.checkout as { id: string } | undefined) !== undefined,
        'the retry',
      );
      const [row] = await db.query<LeaseRow[]>('SELECT id, draw_id, acquired_at FROM leases WHERE id = $1', [lease!.id]);
      const checkinFrom = Date.now();
      expect((await t.gql(client.key, CHECKIN, { id: lease!.id })).errors).toBeUndefined();
      const checkinTo = Date.now();

      worker = await NestFactory.createApplicationContext(WorkerModule, { logger: false });
      await worker.get(LeaseSweepService).sweepPools([pool.poolId]);
      const draws = await db.query<DrawRow[]>('SELECT id, opened_at, ended_at FROM lease_draws WHERE opener_lease_id = $1', [lease!.id]);
      // The retry's draw: charged once, from its grant to its check-in.
      const own = draws.filter((d) => d.id === row.draw_id);
      expect(own).toHaveLength(1);
      expect(own[0].opened_at.getTime()).toBe(row.acquired_at.getTime());
      expect(own[0].ended_at.getTime()).toBeGreaterThanOrEqual(checkinFrom - 1_000);
      expect(own[0].ended_at.getTime()).toBeLessThanOrEqual(checkinTo + 1_000);
      const ledger = await db.query<{ started_at: Date; occurred_at: Date }[]>(
        `SELECT started_at, occurred_at FROM ledger_entries WHERE kind = 'LICENSE' AND draw_id = $1`,
        [row.draw_id],
      );
      expect(ledger.map((e) => [e.started_at.getTime(), e.occurred_at.getTime()])).toEqual([[own[0].opened_at.getTime(), own[0].ended_at.getTime()]]);
      // The first attempt's draw, undone when its record failed, is never charged as the retry's.
      for (const stale of draws.filter((d) => d.id !== row.draw_id)) expect(stale.ended_at.getTime()).toBeLessThanOrEqual(row.acquired_at.getTime());
    } finally {
      await worker?.close();
      await api?.stop();
      await proxy.cut();
    }
  });

  it('gives one lease when retried on another API process after the first was killed in the middle of it', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'cad', cost: 3 }] });
    const client = await t.principalWithKey(adminKey, 'CLIENT', { name: 'survivor' });
    const input = { poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 60, idempotencyKey: 'job-killed' };
    const apis: ApiProcess[] = [];
    try {
      apis.push(await startApi({}, { pauseCheckoutsMs: 30_000 }), await startApi());
      const [held, other] = apis;
      const first = held.gql(client.key, CHECKOUT, { input }).then(
        () => 'answered',
        () => 'connection lost',
      );
      await waitFor(granted(pool.poolId), 'the first attempt to be granted in Redis');
      held.signal('SIGKILL');
      await held.exited;
      expect(await first).toBe('connection lost');

      const retry = await other.gql(client.key, CHECKOUT, { input });
      const lease = retry.body.data?.checkout as { id: string; credits: number };
      expect(lease.credits).toBe(3);
      const again = await other.gql(client.key, CHECKOUT, { input });
      expect((again.body.data?.checkout as { id: string }).id).toBe(lease.id);
      const rows = await db.query<{ id: string }[]>('SELECT id FROM leases WHERE pool_id = $1', [pool.poolId]);
      expect(rows.map((r) => r.id)).toEqual([lease.id]);
      expect(await t.app.get(LeaseStore).status(pool.poolId)).toMatchObject({ inUse: 3, activeLeases: 1 });
    } finally {
      await Promise.all(apis.map((a) => a.stop()));
    }
  });
});
