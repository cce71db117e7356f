import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { LeaseRecordsService, NewLease } from '../src/leases/lease-records.service';
import { TestApp } from './support/app';
import { CHECKIN, CHECKOUT, createPool, LeaseShape } from './support/catalog';

/**
 * Lease rows are written by group commit: what reaches the records in one turn of the event
 * loop goes to PostgreSQL in one statement. Calls issued together below land in one batch;
 * each must still get its own answer, exactly as if it had been written alone.
 */
describe('group commit of lease records', () => {
  let t: TestApp;
  let adminKey: string;
  let organizationId: string;
  let client: { key: string; principalId: string };
  let records: LeaseRecordsService;
  let dataSource: DataSource;

  beforeAll(async () => {
    t = await TestApp.start();
    ({ adminKey, organizationId } = await t.organization('group-commit'));
    client = await t.principalWithKey(adminKey, 'CLIENT', { name: 'batcher' });
    records = t.app.get(LeaseRecordsService);
    dataSource = t.app.get(DataSource);
  });

  afterAll(async () => {
    await t.close();
  });

  async function poolWithEpoch(): Promise<{ poolId: string; appId: string; epoch: string }> {
    const pool = await createPool(t, adminKey, { cap: 1000, apps: [{ key: 'tool', cost: 2 }] });
    const [row]: { epoch: string }[] = await dataSource.query('SELECT epoch FROM pools WHERE id = $1', [pool.poolId]);
    return { poolId: pool.poolId, appId: pool.apps.tool, epoch: String(row.epoch) };
  }

  // Rising fencing tokens, as one Redis issues them: a token below one recorded later in time reads as a rollback.
  let fence = 0;
  function lease(pool: { poolId: string; appId: string; epoch: string }, extra: Partial<NewLease> = {}): NewLease {
    const now = Date.now();
    return {
      id: randomUUID(),
      organizationId,
      poolId: pool.poolId,
      appId: pool.appId,
      principalId: client.principalId,
      requestedByPrincipalId: client.principalId,
      apiKeyId: randomUUID(),
      workUnitId: null,
      team: null,
      host: null,
      drawId: randomUUID(),
      credits: 2,
      leaseSeconds: 60,
      fencingToken: `${pool.epoch}${String((fence += 1)).padStart(12, '0')}`,
      epoch: pool.epoch,
      acquiredAt: new Date(now),
      expiresAt: new Date(now + 60_000),
      idempotencyKey: null,
      requestHash: null,
      ...extra,
    };
  }

  it('gives each lease of one statement its own outcome: recorded, stale epoch, idempotency key taken', async () => {
    const pool = await poolWithEpoch();
    const apiKeyId = randomUUID();
    const earlier = lease(pool, { apiKeyId, idempotencyKey: 'job-7', requestHash: 'a' });
    expect(await records.insert(earlier)).toEqual({ inserted: true });

    const fresh = Array.from({ length: 5 }, () => lease(pool));
    const stale = lease(pool, { epoch: String(Number(pool.epoch) + 1) });
    const taken = lease(pool, { apiKeyId, idempotencyKey: 'job-7', requestHash: 'b' });
    const outcomes = await Promise.all([...fresh, stale, taken].map((l) => records.insert(l)));

    expect(outcomes).toEqual([
      ...fresh.map(() => ({ inserted: true })),
      { inserted: false, reason: 'STALE_EPOCH' },
      { inserted: false, reason: 'IDEMPOTENCY_TAKEN' },
    ]);
    const rows: { id: string }[] = await dataSource.query('SELECT id FROM leases WHERE pool_id = $1', [pool.poolId]);
    expect(rows.map((r) => r.id).sort()).toEqual([earlier.id, ...fresh.map((l) => l.id)].sort());
  });

  it('does not let one bad row fail the others of its statement', async () => {
    const pool = await poolWithEpoch();
    const good = Array.from({ length: 3 }, () => lease(pool));
    // credits is an int column: 2^40 is out of range and fails that row's insert.
    const bad = lease(pool, { credits: 2 ** 40 });
    const settled = await Promise.allSettled([good[0], bad, good[1], good[2]].map((l) => records.insert(l)));

    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const rows: { id: string }[] = await dataSource.query('SELECT id FROM leases WHERE pool_id = $1', [pool.poolId]);
    expect(rows.map((r) => r.id).sort()).toEqual(good.map((l) => l.id).sort());
  });

  it('ends each lease of one statement only for those who may end it, and a lease asked twice only once', async () => {
    const pool = await poolWithEpoch();
    const mine = [lease(pool), lease(pool)];
    const someoneElses = lease(pool, { principalId: randomUUID(), requestedByPrincipalId: randomUUID() });
    for (const l of [...mine, someoneElses]) expect(await records.insert(l)).toEqual({ inserted: true });
    const as = (l: NewLease, extra: { organizationId?: string; anyHolder?: boolean } = {}) =>
      records.endIfActive({
        organizationId: extra.organizationId ?? organizationId,
        leaseId: l.id,
        principalId: client.principalId,
        anyHolder: extra.anyHolder ?? false,
        state: 'RELEASED',
        reason: null,
      });

    const [first, again, second, notMine, otherOrganization] = await Promise.all([
      as(mine[0]),
      as(mine[0]),
      as(mine[1]),
      as(someoneElses),
      as(someoneElses, { organizationId: randomUUID(), anyHolder: true }),
    ]);

    expect(first).toMatchObject({ id: mine[0].id, state: 'RELEASED' });
    expect(first!.creditSeconds).toBeGreaterThanOrEqual(0);
    expect(again).toBeNull();
    expect(second).toMatchObject({ id: mine[1].id, state: 'RELEASED' });
    expect(notMine).toBeNull();
    expect(otherOrganization).toBeNull();
    const rows: { id: string; state: string }[] = await dataSource.query('SELECT id, state FROM leases WHERE pool_id = $1 ORDER BY state', [pool.poolId]);
    expect(rows).toEqual(
      expect.arrayContaining([
        { id: mine[0].id, state: 'RELEASED' },
        { id: mine[1].id, state: 'RELEASED' },
        { id: someoneElses.id, state: 'ACTIVE' },
      ]),
    );
  });

  it('keeps recording and ending leases after a migration adds a column to leases while it runs', async () => {
    const pool = await poolWithEpoch();
    const end = (l: NewLease) =>
      records.endIfActive({ organizationId, leaseId: l.id, principalId: client.principalId, anyHolder: false, state: 'RELEASED', reason: null });
    // Statements prepared on the pool's connections, one by one and in batches (the pool
    // hands out its most recently used idle connection first, so the same ones serve below).
    const before = Array.from({ length: 4 }, () => lease(pool));
    expect(await records.insert(before[0])).toEqual({ inserted: true });
    expect(await Promise.all(before.slice(1).map((l) => records.insert(l)))).toEqual([{ inserted: true }, { inserted: true }, { inserted: true }]);
    expect(await end(before[0])).toMatchObject({ id: before[0].id, state: 'RELEASED' });
    expect((await Promise.all(before.slice(1).map(end))).map((l) => l?.state)).toEqual(['RELEASED', 'RELEASED', 'RELEASED']);

    const column = `test_added_${randomUUID().slice(0, 8)}`;
    await dataSource.query(`ALTER TABLE leases ADD COLUMN ${column} int`);
    try {
      const after = Array.from({ length: 4 }, () => lease(pool));
      expect(await records.insert(after[0])).toEqual({ inserted: true });
      expect(await Promise.all(after.slice(1).map((l) => records.insert(l)))).toEqual([{ inserted: true }, { inserted: true }, { inserted: true }]);
      expect(await end(after[0])).toMatchObject({ id: after[0].id, state: 'RELEASED', credits: 2 });
      expect((await Promise.all(after.slice(1).map(end))).map((l) => l?.state)).toEqual(['RELEASED', 'RELEASED', 'RELEASED']);
    } finally {
      await dataSource.query(`ALTER TABLE leases DROP COLUMN ${column}`);
    }
  });

  it('answers 40 simultaneous check-outs and check-ins through the API, each recorded once', async () => {
    const pool = await createPool(t, adminKey, { cap: 100, apps: [{ key: 'tool', cost: 2 }] });
    const granted = await Promise.all(
      Array.from({ length: 40 }, () => t.gql<{ checkout: LeaseShape }>(client.key, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('tool') } })),
    );
    const ids = granted.map((g) => g.data?.checkout.id);
    expect(new Set(ids).size).toBe(40);
    const tokens = granted.map((g) => BigInt(g.data!.checkout.fencingToken));
    expect(new Set(tokens).size).toBe(40);
    const live = await t.gql<{ pool: { inUse: number } }>(adminKey, 'query($id: ID!) { pool(id: $id) { inUse } }', { id: pool.poolId });
    expect(live.data?.pool.inUse).toBe(80);

    const ended = await Promise.all(ids.map((id) => t.gql<{ checkin: LeaseShape }>(client.key, CHECKIN, { id })));
    expect(ended.map((e) => e.data?.checkin.state)).toEqual(ids.map(() => 'RELEASED'));
    const rows: { state: string; n: number }[] = await dataSource.query('SELECT state, count(*)::int AS n FROM leases WHERE pool_id = $1 GROUP BY state', [
      pool.poolId,
    ]);
    expect(rows).toEqual([{ state: 'RELEASED', n: 40 }]);
    const after = await t.gql<{ pool: { inUse: number } }>(adminKey, 'query($id: ID!) { pool(id: $id) { inUse } }', { id: pool.poolId });
    expect(after.data?.pool.inUse).toBe(0);
  });
});
