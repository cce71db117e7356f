import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { codeOf, TestApp } from './support/app';
import { CHECKIN, CHECKOUT, createPool, HEARTBEAT, LeaseShape } from './support/catalog';
import { scrapeMetrics } from './support/metrics';

describe('leases: check-out, heartbeat, check-in, expiry', () => {
  let t: TestApp;
  let adminKey: string;
  let client: { key: string; principalId: string };
  let dataSource: DataSource;

  beforeAll(async () => {
    t = await TestApp.start();
    dataSource = t.app.get(DataSource);
    ({ adminKey } = await t.organization('leases'));
    client = await t.principalWithKey(adminKey, 'CLIENT', { name: 'agent-1', kind: 'AGENT', team: 'cae' });
  });

  afterAll(async () => {
    await t.close();
  });

  async function checkout(key: string, input: Record<string, unknown>) {
    return t.gql<{ checkout: LeaseShape }>(key, CHECKOUT, { input });
  }

  it('grants a lease, records it in PostgreSQL before answering, and counts it in the pool', async () => {
    const pool = await createPool(t, adminKey, { cap: 100, apps: [{ key: 'cad', cost: 21 }] });
    const res = await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('cad'), host: 'ws-7' });
    const lease = res.data!.checkout;
    expect(lease).toMatchObject({ credits: 21, state: 'ACTIVE', host: 'ws-7', leaseSeconds: 300, principal: { id: client.principalId }, endedAt: null });
    expect(new Date(lease.expiresAt).getTime() - new Date(lease.acquiredAt).getTime()).toBe(300_000);
    const rows: { state: string }[] = await dataSource.query('SELECT state FROM leases WHERE id = $1', [lease.id]);
    expect(rows).toEqual([{ state: 'ACTIVE' }]);
    const live = await t.gql<{ pool: { inUse: number; available: number; activeLeases: number } }>(
      client.key,
      'query($id: ID!) { pool(id: $id) { inUse available activeLeases } }',
      { id: pool.poolId },
    );
    expect(live.data?.pool).toEqual({ inUse: 21, available: 79, activeLeases: 1 });
  });

  it('refuses a check-out past the cap with POOL_EXHAUSTED, its figures, and records the denial', async () => {
    const pool = await createPool(t, adminKey, { cap: 60, apps: [{ key: 'solver', cost: 50 }] });
    const first = await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('solver'), leaseSeconds: 40 });
    expect(first.data?.checkout.credits).toBe(50);
    const denied = await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('solver') });
    expect(codeOf(denied)).toBe('POOL_EXHAUSTED');
    expect(denied.errors?.[0].extensions).toMatchObject({ available: 10, requested: 50 });
    const retry = denied.errors?.[0].extensions.retryAfterSeconds as number;
    expect(retry).toBeGreaterThanOrEqual(39);
    expect(retry).toBeLessThanOrEqual(41);
    const denials = await t.gql<{ denials: { reason: string; requested: number; available: number; principal: { id: string }; app: { key: string } }[] }>(
      adminKey,
      'query($p: ID!, $from: DateTime!, $to: DateTime!) { denials(poolId: $p, from: $from, to: $to) { reason requested available principal { id } app { key } } }',
      { p: pool.poolId, from: new Date(Date.now() - 60_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() },
    );
    expect(denials.data?.denials).toEqual([
      { reason: 'POOL_EXHAUSTED', requested: 50, available: 10, principal: { id: client.principalId }, app: { key: pool.keyOf('solver') } },
    ]);
  });

  it('grants an exact fit', async () => {
    const pool = await createPool(t, adminKey, { cap: 42, apps: [{ key: 'cad', cost: 21 }] });
    expect((await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('cad') })).data?.checkout.credits).toBe(21);
    expect((await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('cad') })).data?.checkout.credits).toBe(21);
    expect(codeOf(await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('cad') }))).toBe('POOL_EXHAUSTED');
  });

  it('extends a lease on heartbeat and frees its credits on check-in', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'viewer', cost: 6 }] });
    const lease = (await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('viewer'), leaseSeconds: 30 })).data!.checkout;
    await new Promise((r) => setTimeout(r, 50));
    const beat = await t.gql<{ heartbeat: LeaseShape }>(client.key, HEARTBEAT, { id: lease.id });
    expect(new Date(beat.data!.heartbeat.expiresAt).getTime()).toBeGreaterThan(new Date(lease.expiresAt).getTime());
    const ended = await t.gql<{ checkin: LeaseShape }>(client.key, CHECKIN, { id: lease.id });
    expect(ended.data?.checkin).toMatchObject({ state: 'RELEASED' });
    expect(ended.data?.checkin.endedAt).not.toBeNull();
    const again = await t.gql<{ checkin: LeaseShape }>(client.key, CHECKIN, { id: lease.id });
    expect(again.data?.checkin).toEqual(ended.data?.checkin);
    const live = await t.gql<{ pool: { inUse: number } }>(client.key, 'query($id: ID!) { pool(id: $id) { inUse } }', { id: pool.poolId });
    expect(live.data?.pool.inUse).toBe(0);
    const rows: { credit_seconds: string }[] = await dataSource.query('SELECT credit_seconds FROM leases WHERE id = $1', [lease.id]);
    expect(Number(rows[0].credit_seconds)).toBeGreaterThan(0);
  });

  it('records the stretch a holder reported idle, from the heartbeat before to the first active one', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'viewer', cost: 6 }] });
    const lease = (await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('viewer') })).data!.checkout;
    const beat = async (idle: boolean) => (await t.gql<{ heartbeat: LeaseShape }>(client.key, HEARTBEAT, { id: lease.id, idle })).data!.heartbeat;
    // The heartbeat's time (Redis clock) is its new expiry less the lease length; PostgreSQL gets it written behind.
    const first = await beat(false);
    const idleFrom = Date.parse(first.expiresAt) - first.leaseSeconds * 1000;
    await new Promise((r) => setTimeout(r, 30));
    await beat(true);
    await beat(true);
    await new Promise((r) => setTimeout(r, 30));
    await beat(false);
    await t.gql(client.key, CHECKIN, { id: lease.id });
    const intervals: { started_at: Date; ended_at: Date }[] = await dataSource.query(
      'SELECT started_at, ended_at FROM lease_idle_intervals WHERE lease_id = $1',
      [lease.id],
    );
    expect(intervals).toHaveLength(1);
    expect(intervals[0].started_at.getTime()).toBe(new Date(idleFrom).getTime());
    expect(intervals[0].ended_at.getTime()).toBeGreaterThan(intervals[0].started_at.getTime() + 50);
  });

  it('answers LEASE_NOT_ACTIVE with the state to a heartbeat after check-in, and never revives the lease', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'viewer', cost: 6 }] });
    const lease = (await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('viewer') })).data!.checkout;
    await t.gql(client.key, CHECKIN, { id: lease.id });
    const beat = await t.gql(client.key, HEARTBEAT, { id: lease.id });
    expect(beat.errors?.[0].extensions).toMatchObject({ code: 'LEASE_NOT_ACTIVE', state: 'RELEASED' });
    const read = await t.gql<{ lease: { state: string } }>(client.key, 'query($id: ID!) { lease(id: $id) { state } }', { id: lease.id });
    expect(read.data?.lease.state).toBe('RELEASED');
  });

  it('reads a lease past its expiry as EXPIRED with endedAt = expiresAt, refuses its heartbeat, and returns its credits', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'tool', cost: 10 }] });
    const lease = (await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool'), leaseSeconds: 5 })).data!.checkout;
    expect(codeOf(await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool') }))).toBe('POOL_EXHAUSTED');
    await new Promise((r) => setTimeout(r, 5200));
    const read = await t.gql<{ lease: { state: string; endedAt: string; expiresAt: string } }>(
      client.key,
      'query($id: ID!) { lease(id: $id) { state endedAt expiresAt } }',
      { id: lease.id },
    );
    expect(read.data?.lease.state).toBe('EXPIRED');
    expect(read.data?.lease.endedAt).toBe(read.data?.lease.expiresAt);
    const beat = await t.gql(client.key, HEARTBEAT, { id: lease.id });
    expect(beat.errors?.[0].extensions).toMatchObject({ code: 'LEASE_NOT_ACTIVE', state: 'EXPIRED' });
    expect((await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool') })).data?.checkout.credits).toBe(10);
  });

  it('lets only the holder or an ADMIN heartbeat and check in; others get NOT_FOUND', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'tool', cost: 1 }] });
    const lease = (await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool') })).data!.checkout;
    const other = await t.principalWithKey(adminKey, 'CLIENT', { name: 'someone-else' });
    expect(codeOf(await t.gql(other.key, HEARTBEAT, { id: lease.id }))).toBe('NOT_FOUND');
    expect(codeOf(await t.gql(other.key, CHECKIN, { id: lease.id }))).toBe('NOT_FOUND');
    expect((await t.gql<{ lease: null }>(other.key, 'query($id: ID!) { lease(id: $id) { id } }', { id: lease.id })).data?.lease).toBeNull();
    expect((await t.gql<{ heartbeat: LeaseShape }>(adminKey, HEARTBEAT, { id: lease.id })).data?.heartbeat.state).toBe('ACTIVE');
  });

  it('lists a CLIENT its own leases only, newest first, with pagination', async () => {
    const pool = await createPool(t, adminKey, { cap: 100, apps: [{ key: 'tool', cost: 1 }] });
    const mine = await t.principalWithKey(adminKey, 'CLIENT', { name: 'lister' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await checkout(mine.key, { poolId: pool.poolId, app: pool.keyOf('tool') })).data!.checkout.id);
    await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool') });
    const page1 = await t.gql<{ leases: { id: string }[] }>(mine.key, 'query($p: ID) { leases(poolId: $p, first: 2) { id } }', { p: pool.poolId });
    expect(page1.data?.leases.map((l) => l.id)).toEqual([ids[2], ids[1]]);
    const page2 = await t.gql<{ leases: { id: string }[] }>(mine.key, 'query($p: ID, $a: String) { leases(poolId: $p, first: 2, after: $a) { id } }', {
      p: pool.poolId,
      a: ids[1],
    });
    expect(page2.data?.leases.map((l) => l.id)).toEqual([ids[0]]);
    const all = await t.gql<{ leases: { id: string }[] }>(adminKey, 'query($p: ID) { leases(poolId: $p, state: ACTIVE) { id } }', { p: pool.poolId });
    expect(all.data?.leases).toHaveLength(4);
    expect(codeOf(await t.gql(mine.key, '{ leases(first: 101) { id } }'))).toBe('BAD_USER_INPUT');
  });

  it('gives one lease to 50 parallel check-outs with the same idempotency key', async () => {
    const pool = await createPool(t, adminKey, { cap: 100, apps: [{ key: 'tool', cost: 3 }] });
    const input = { poolId: pool.poolId, app: pool.keyOf('tool'), idempotencyKey: `job-42-${pool.poolId}` };
    const answers = await Promise.all(Array.from({ length: 50 }, () => checkout(client.key, input)));
    const ids = new Set(answers.map((a) => a.data?.checkout.id ?? codeOf(a)));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^[0-9a-f-]{36}$/);
    const live = await t.gql<{ pool: { inUse: number; activeLeases: number } }>(adminKey, 'query($id: ID!) { pool(id: $id) { inUse activeLeases } }', {
      id: pool.poolId,
    });
    expect(live.data?.pool).toEqual({ inUse: 3, activeLeases: 1 });
  });

  it('answers IDEMPOTENCY_CONFLICT when a key is reused with other arguments, and a retry after a denial can succeed', async () => {
    const pool = await createPool(t, adminKey, {
      cap: 5,
      apps: [
        { key: 'a', cost: 5 },
        { key: 'b', cost: 1 },
      ],
    });
    const holder = (await checkout(adminKey, { poolId: pool.poolId, app: pool.keyOf('a'), leaseSeconds: 30 })).data!.checkout;
    const key = `k-${pool.poolId}`;
    expect(codeOf(await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('b'), idempotencyKey: key }))).toBe('POOL_EXHAUSTED');
    await t.gql(adminKey, CHECKIN, { id: holder.id });
    const granted = await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('b'), idempotencyKey: key, waitSeconds: 0 });
    expect(granted.data?.checkout.credits).toBe(1);
    expect(codeOf(await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('b'), idempotencyKey: key, leaseSeconds: 60 }))).toBe(
      'IDEMPOTENCY_CONFLICT',
    );
  });

  it('refuses bad check-out input with the contract codes and changes nothing', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'tool', cost: 1 }] });
    const cases: [Record<string, unknown>, string, string][] = [
      [{ poolId: '00000000-0000-0000-0000-000000000000', app: pool.keyOf('tool') }, 'NOT_FOUND', 'input.poolId'],
      [{ poolId: 'not-a-uuid', app: pool.keyOf('tool') }, 'NOT_FOUND', 'input.poolId'],
      [{ poolId: pool.poolId, app: 'no-such-app' }, 'NOT_FOUND', 'input.app'],
      [{ poolId: pool.poolId, app: pool.keyOf('tool'), leaseSeconds: 4 }, 'BAD_USER_INPUT', 'input.leaseSeconds'],
      [{ poolId: pool.poolId, app: pool.keyOf('tool'), leaseSeconds: 3601 }, 'BAD_USER_INPUT', 'input.leaseSeconds'],
      [{ poolId: pool.poolId, app: pool.keyOf('tool'), idempotencyKey: 'x'.repeat(256) }, 'BAD_USER_INPUT', 'input.idempotencyKey'],
      [{ poolId: pool.poolId, app: pool.keyOf('tool'), idempotencyKey: 'tab\there' }, 'BAD_USER_INPUT', 'input.idempotencyKey'],
      [{ poolId: pool.poolId, app: pool.keyOf('tool'), waitSeconds: 301 }, 'BAD_USER_INPUT', 'input.waitSeconds'],
      [{ poolId: pool.poolId, app: pool.keyOf('tool'), host: 'h'.repeat(256) }, 'BAD_USER_INPUT', 'input.host'],
      [{ poolId: pool.poolId, app: pool.keyOf('tool'), onBehalfOf: client.principalId }, 'FORBIDDEN', ''],
    ];
    for (const [input, code, field] of cases) {
      const res = await checkout(adminKey, input);
      expect({ input, code: codeOf(res), field: res.errors?.[0].extensions.field ?? '' }).toEqual({ input, code, field });
    }
    const live = await t.gql<{ pool: { inUse: number; activeLeases: number } }>(adminKey, 'query($id: ID!) { pool(id: $id) { inUse activeLeases } }', {
      id: pool.poolId,
    });
    expect(live.data?.pool).toEqual({ inUse: 0, activeLeases: 0 });
  });

  it('lets a SERVICE key check out on behalf of a principal, who then holds the lease', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'tool', cost: 2 }] });
    const service = await t.principalWithKey(adminKey, 'CLIENT', { name: 'desk-app', kind: 'SERVICE' });
    const lease = await checkout(service.key, { poolId: pool.poolId, app: pool.keyOf('tool'), onBehalfOf: client.principalId });
    expect(lease.data?.checkout.principal.id).toBe(client.principalId);
    expect((await t.gql<{ checkin: LeaseShape }>(service.key, CHECKIN, { id: lease.data!.checkout.id })).data?.checkin.state).toBe('RELEASED');
  });

  it('keeps leases when the cap is lowered below inUse and refuses new ones until it fits', async () => {
    const pool = await createPool(t, adminKey, { cap: 30, apps: [{ key: 'tool', cost: 10 }] });
    const leases = [];
    for (let i = 0; i < 3; i++) leases.push((await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool') })).data!.checkout);
    await t.gql(adminKey, 'mutation($id: ID!) { updatePool(id: $id, input: { cap: 15 }) { cap } }', { id: pool.poolId });
    const live = await t.gql<{ pool: { inUse: number; available: number } }>(adminKey, 'query($id: ID!) { pool(id: $id) { inUse available } }', {
      id: pool.poolId,
    });
    expect(live.data?.pool).toEqual({ inUse: 30, available: 0 });
    expect(codeOf(await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool') }))).toBe('POOL_EXHAUSTED');
    await t.gql(client.key, CHECKIN, { id: leases[0].id });
    await t.gql(client.key, CHECKIN, { id: leases[1].id });
    const stillOver = await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool') });
    expect(stillOver.errors?.[0].extensions).toMatchObject({ code: 'POOL_EXHAUSTED', available: 5, requested: 10 });
    await t.gql(client.key, CHECKIN, { id: leases[2].id });
    expect((await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool') })).data?.checkout.credits).toBe(10);
  });

  it('revokes a lease; the holder learns it on its next heartbeat', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'tool', cost: 4 }] });
    const lease = (await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool') })).data!.checkout;
    const revoked = await t.gql<{ revokeLease: { state: string } }>(adminKey, 'mutation($id: ID!) { revokeLease(leaseId: $id, reason: "harvest") { state } }', {
      id: lease.id,
    });
    expect(revoked.data?.revokeLease.state).toBe('REVOKED');
    const beat = await t.gql(client.key, HEARTBEAT, { id: lease.id });
    expect(beat.errors?.[0].extensions).toMatchObject({ code: 'LEASE_NOT_ACTIVE', state: 'REVOKED' });
    expect(codeOf(await t.gql(client.key, 'mutation($id: ID!) { revokeLease(leaseId: $id) { id } }', { id: lease.id }))).toBe('FORBIDDEN');
  });

  it('fails closed when Redis lost the pool, rebuilds it from PostgreSQL, and keeps the lease and rising fencing tokens', async () => {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'tool', cost: 6 }] });
    const held = (await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool'), leaseSeconds: 60, idempotencyKey: `held-${pool.poolId}` })).data!
      .checkout;
    const redis = new Redis(process.env.REDIS_URL!);
    const keys = await redis.keys(`${process.env.REDIS_PREFIX}:lease:{pool:${pool.poolId}}*`);
    expect(keys.length).toBeGreaterThan(0);
    await redis.del(...keys);
    await redis.quit();
    const during = await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool') });
    expect(codeOf(during)).toBe('UNAVAILABLE');
    expect(during.errors?.[0].extensions.retryAfterSeconds).toBeGreaterThan(0);
    let after = during;
    for (let i = 0; i < 50 && codeOf(after) === 'UNAVAILABLE'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool') });
    }
    // The restored lease still holds 6 of 10 credits, so a second 6 does not fit.
    expect(codeOf(after)).toBe('POOL_EXHAUSTED');
    const beat = await t.gql<{ heartbeat: LeaseShape }>(client.key, HEARTBEAT, { id: held.id });
    expect(beat.data?.heartbeat.state).toBe('ACTIVE');
    const replay = await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool'), leaseSeconds: 60, idempotencyKey: `held-${pool.poolId}` });
    expect(replay.data?.checkout.id).toBe(held.id);
    await t.gql(client.key, CHECKIN, { id: held.id });
    const next = (await checkout(client.key, { poolId: pool.poolId, app: pool.keyOf('tool') })).data!.checkout;
    expect(BigInt(next.fencingToken)).toBeGreaterThan(BigInt(held.fencingToken));
  });

  it('exposes lease counters on the metrics port', async () => {
    const scrape = await scrapeMetrics(t);
    expect(scrape).toMatch(/tokenpool_lease_grants_total\{pool="[0-9a-f-]+"\} [1-9]/);
    expect(scrape).toMatch(/tokenpool_lease_denials_total\{pool="[0-9a-f-]+",reason="POOL_EXHAUSTED"\} [1-9]/);
  });
});
