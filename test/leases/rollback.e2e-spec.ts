import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { LeaseRecordsService, NewLease } from '../../src/leases/lease-records.service';
import { LeaseStore } from '../../src/lease-engine/lease-store';
import { PoolStateService } from '../../src/leases/pool-state.service';
import { PoolEntity } from '../../src/pools/pool.entity';
import { codeOf, TestApp } from '../support/app';
import { CHECKIN, CHECKOUT, createPool, LeaseShape } from '../support/catalog';
import { rollBackPool, snapshotPool } from '../support/pool-snapshot';
import { waitFor } from '../support/processes';

/**
 * A Redis that goes back in time (a failover to a replica that missed the last writes, a
 * restore of an older snapshot) keeps the pool's epoch, so the epoch check cannot see it. The
 * fencing tokens it re-issues can: their records refuse them, the pool is rebuilt, and no
 * acknowledged lease is ever over the cap. The worker's sweep finds the leases it lost when
 * no grant shows it, and no rebuild shortens a lease.
 */
describe('a Redis that goes back in time', () => {
  let t: TestApp;
  let adminKey: string;
  let client: { key: string; principalId: string };
  let dataSource: DataSource;
  let store: LeaseStore;
  let redis: Redis;

  beforeAll(async () => {
    t = await TestApp.start();
    dataSource = t.app.get(DataSource);
    store = t.app.get(LeaseStore);
    redis = new Redis(process.env.REDIS_URL!);
    ({ adminKey } = await t.organization('rollback'));
    client = await t.principalWithKey(adminKey, 'CLIENT', { name: 'agent-1', kind: 'AGENT' });
  });

  afterAll(async () => {
    redis.disconnect();
    await t.close();
  });

  async function checkout(input: Record<string, unknown>) {
    return t.gql<{ checkout: LeaseShape }>(client.key, CHECKOUT, { input });
  }

  async function epochOf(poolId: string): Promise<bigint> {
    const rows: { epoch: string }[] = await dataSource.query('SELECT epoch::text AS epoch FROM pools WHERE id = $1', [poolId]);
    return BigInt(rows[0].epoch);
  }

  it('refuses the grants of the older state (UNAVAILABLE), rebuilds the pool from PostgreSQL and holds the cap', async () => {
    const pool = await createPool(t, adminKey, { cap: 2, apps: [{ key: 'cad', cost: 1 }] });
    const base = store.keys(pool.poolId).base;
    const first = (await checkout({ poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 120 })).data!.checkout;
    const snapshot = await snapshotPool(redis, base);
    const second = (await checkout({ poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 120 })).data!.checkout;
    const epochBefore = await epochOf(pool.poolId);
    await rollBackPool(redis, base, snapshot);

    // Redis has lost `second` and re-issues its fencing token: a third lease would be over the cap.
    const third = await checkout({ poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 120 });
    expect(codeOf(third)).toBe('UNAVAILABLE');
    expect(await epochOf(pool.poolId)).toBeGreaterThan(epochBefore);
    let after = third;
    await waitFor(
      async () => codeOf((after = await checkout({ poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 120 }))) !== 'UNAVAILABLE',
      'the rebuilt pool',
    );
    expect(codeOf(after)).toBe('POOL_EXHAUSTED');
    expect(await store.status(pool.poolId)).toMatchObject({ inUse: 2, activeLeases: 2 });
    const tokens: { fencing_token: string }[] = await dataSource.query('SELECT fencing_token FROM leases WHERE pool_id = $1', [pool.poolId]);
    expect(tokens.map((r) => r.fencing_token).sort()).toEqual([first.fencingToken, second.fencingToken].sort());

    await t.gql(client.key, CHECKIN, { id: first.id });
    const next = (await checkout({ poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 120 })).data!.checkout;
    expect(BigInt(next.fencingToken)).toBeGreaterThan(BigInt(second.fencingToken));
  });

  it('a heartbeat of a lease Redis lost in a rollback rebuilds the pool (UNAVAILABLE) and never ends the lease', async () => {
    const pool = await createPool(t, adminKey, { cap: 3, apps: [{ key: 'cad', cost: 1 }] });
    const base = store.keys(pool.poolId).base;
    const snapshot = await snapshotPool(redis, base);
    const held = (await checkout({ poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 120 })).data!.checkout;
    await rollBackPool(redis, base, snapshot);

    const beat = () => t.gql<{ heartbeat: LeaseShape }>(client.key, 'mutation($id: ID!) { heartbeat(leaseId: $id) { id state expiresAt } }', { id: held.id });
    const lost = await beat();
    expect(codeOf(lost)).toBe('UNAVAILABLE');
    let after = lost;
    await waitFor(async () => codeOf((after = await beat())) !== 'UNAVAILABLE', 'the rebuilt pool');
    expect(after.data?.heartbeat).toMatchObject({ id: held.id, state: 'ACTIVE' });
    const [row]: { state: string }[] = await dataSource.query('SELECT state FROM leases WHERE id = $1', [held.id]);
    expect(row.state).toBe('ACTIVE');
    expect(await store.status(pool.poolId)).toMatchObject({ inUse: 1, activeLeases: 1 });
  });

  it('the sweep rebuilds a pool that lost a lease when no grant shows it, and only then', async () => {
    const pool = await createPool(t, adminKey, { cap: 3, apps: [{ key: 'cad', cost: 1 }] });
    const base = store.keys(pool.poolId).base;
    await checkout({ poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 120 });
    const snapshot = await snapshotPool(redis, base);
    const lost = (await checkout({ poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 120 })).data!.checkout;
    const poolState = t.app.get(PoolStateService);
    const entity = async () => await dataSource.getRepository(PoolEntity).findOneByOrFail({ id: pool.poolId });
    expect(await poolState.rebuildIfLeasesLost(await entity())).toBe(0);

    await rollBackPool(redis, base, snapshot);
    expect((await store.heldLeases(pool.poolId, [lost.id])).expiresAtMs.has(lost.id)).toBe(false);
    expect(await poolState.rebuildIfLeasesLost(await entity())).toBe(1);
    expect((await store.heldLeases(pool.poolId, [lost.id])).expiresAtMs.get(lost.id)).toBeGreaterThanOrEqual(new Date(lost.expiresAt).getTime());
    expect(await store.status(pool.poolId)).toMatchObject({ inUse: 2, activeLeases: 2, epoch: (await entity()).epoch });
    expect(await poolState.rebuildIfLeasesLost(await entity())).toBe(0);
  });

  it('a rebuild of a pool Redis still holds keeps the later of the two stores’ expiries of each lease', async () => {
    const pool = await createPool(t, adminKey, { cap: 5, apps: [{ key: 'cad', cost: 1 }] });
    // Redis knows a later expiry (PostgreSQL's copy lags behind heartbeats)...
    const ahead = (await checkout({ poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 600 })).data!.checkout;
    const beat = await store.heartbeat({ poolId: pool.poolId, leaseId: ahead.id, leaseMs: 1_200_000 });
    expect(beat.status).toBe('OK');
    const redisExpiry = beat.status === 'OK' ? beat.expiresAtMs : 0;
    // ...and PostgreSQL a later one than Redis (Redis lost a heartbeat).
    const behind = (await checkout({ poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 600 })).data!.checkout;
    const recorded = new Date(Date.now() + 900_000);
    await dataSource.query('UPDATE leases SET expires_at = $2 WHERE id = $1', [behind.id, recorded]);

    await dataSource.query('UPDATE pools SET epoch = epoch + 1 WHERE id = $1', [pool.poolId]);
    expect(await t.app.get(PoolStateService).ensure(pool.poolId)).toBe(true);
    const expiryInRedis = async (id: string) => Number(await redis.zscore(store.keys(pool.poolId).leases, id));
    expect(await expiryInRedis(ahead.id)).toBe(redisExpiry);
    expect(await expiryInRedis(behind.id)).toBe(recorded.getTime());
    const rows: { id: string; expires_at: Date }[] = await dataSource.query('SELECT id, expires_at FROM leases WHERE id = ANY($1::uuid[])', [
      [ahead.id, behind.id],
    ]);
    expect(Object.fromEntries(rows.map((r) => [r.id, r.expires_at.getTime()]))).toEqual({ [ahead.id]: redisExpiry, [behind.id]: recorded.getTime() });
  });

  describe('the record of a grant', () => {
    let records: LeaseRecordsService;
    let pool: { poolId: string; keyOf: (key: string) => string };
    let template: NewLease;
    let counter = 100;

    beforeAll(async () => {
      records = t.app.get(LeaseRecordsService);
      pool = await createPool(t, adminKey, { cap: 50, apps: [{ key: 'cad', cost: 1 }] });
      const lease = (await checkout({ poolId: pool.poolId, app: pool.keyOf('cad') })).data!.checkout;
      const rows: Record<string, unknown>[] = await dataSource.query(
        `SELECT organization_id, pool_id, app_id, principal_id, requested_by_principal_id, api_key_id, epoch::text AS epoch, acquired_at FROM leases WHERE id = $1`,
        [lease.id],
      );
      const r = rows[0];
      template = {
        id: '',
        organizationId: r.organization_id as string,
        poolId: r.pool_id as string,
        appId: r.app_id as string,
        principalId: r.principal_id as string,
        requestedByPrincipalId: r.requested_by_principal_id as string,
        apiKeyId: r.api_key_id as string,
        workUnitId: null,
        team: null,
        host: null,
        drawId: '',
        credits: 1,
        leaseSeconds: 60,
        fencingToken: '',
        epoch: r.epoch as string,
        acquiredAt: r.acquired_at as Date,
        expiresAt: r.acquired_at as Date,
        idempotencyKey: null,
        requestHash: null,
      };
    });

    /** A grant of the pool's current epoch with counter `n`, made `atMs` after the template's. */
    function grant(n: number, atMs: number): NewLease {
      const id = randomUUID();
      const acquiredAt = new Date(template.acquiredAt.getTime() + atMs);
      return {
        ...template,
        id,
        drawId: id,
        fencingToken: (BigInt(template.epoch) * 10n ** 12n + BigInt(n)).toString(),
        acquiredAt,
        expiresAt: new Date(acquiredAt.getTime() + 60_000),
      };
    }

    it('records grants that reach PostgreSQL out of token order (their clock agrees), and refuses a token that comes back later', async () => {
      counter += 10;
      const epoch = await epochOf(pool.poolId);
      // Granted 1 then 2, recorded 2 then 1 (two processes): both recorded.
      expect(await records.insert(grant(counter + 2, 2_000))).toEqual({ inserted: true });
      expect(await records.insert(grant(counter + 1, 1_000))).toEqual({ inserted: true });
      // Counter 1 again, granted after 2 was: Redis went back in time.
      expect(await records.insert(grant(counter + 1, 3_000))).toEqual({ inserted: false, reason: 'ROLLED_BACK' });
      expect(await epochOf(pool.poolId)).toBe(epoch + 1n);
    });

    it('refuses a token above the highest recorded but granted before it', async () => {
      template.epoch = (await epochOf(pool.poolId)).toString();
      counter += 10;
      expect(await records.insert(grant(counter + 1, 10_000))).toEqual({ inserted: true });
      expect(await records.insert(grant(counter + 2, 9_000))).toEqual({ inserted: false, reason: 'ROLLED_BACK' });
    });

    it('records the grants of a new epoch whatever the clock says of the old one', async () => {
      template.epoch = (await epochOf(pool.poolId)).toString();
      expect(await records.insert(grant(1, -60_000))).toEqual({ inserted: true });
      expect(await records.insert(grant(2, -59_000))).toEqual({ inserted: true });
    });
  });
});
