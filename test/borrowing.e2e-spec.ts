import { createLocalJWKSet, decodeProtectedHeader, errors, JSONWebKeySet, jwtVerify } from 'jose';
import Redis from 'ioredis';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { LeaseStore } from '../src/lease-engine/lease-store';
import { LeaseDrawsService } from '../src/leases/lease-draws.service';
import { LeaseSweepService } from '../src/leases/lease-sweep.service';
import { RETIRED_KEY_PUBLISHED_SECONDS } from '../src/proofs/signing-keys.service';
import { WorkerModule } from '../src/worker.module';
import { codeOf, GqlResult, TestApp } from './support/app';
import { CHECKOUT, createPool, LeaseShape } from './support/catalog';
import { waitFor } from './support/processes';
import { unlinkPrefix } from './support/redis-keys';

const BORROWED = 'id state credits acquiredAt expiresAt endedAt leaseSeconds borrowedUntil host proof';
const BORROW = `mutation($input: BorrowInput!) { borrow(input: $input) { ${BORROWED} } }`;
const RETURN = `mutation($id: ID!) { returnBorrowed(leaseId: $id) { ${BORROWED} } }`;
const REVOKE = `mutation($id: ID!) { revokeLease(leaseId: $id, reason: "laptop lost") { ${BORROWED} } }`;
const HEARTBEAT = `mutation($id: ID!) { heartbeat(leaseId: $id) { ${BORROWED} } }`;
const HEARTBEATS = 'mutation($ids: [ID!]!) { heartbeats(leaseIds: $ids) { leaseId code state lease { id expiresAt borrowedUntil } } }';
const LEASE = `query($id: ID!) { lease(id: $id) { ${BORROWED} } }`;
const POOL = 'query($id: ID!) { pool(id: $id) { inUse available activeLeases maxBorrowHours } }';
const UPDATE_POOL = 'mutation($id: ID!, $input: UpdatePoolInput!) { updatePool(id: $id, input: $input) { maxBorrowHours } }';
const VERIFY = 'query($proof: String!) { verifyLease(proof: $proof) { valid reason } }';

interface Borrowed {
  id: string;
  state: string;
  credits: number;
  acquiredAt: string;
  expiresAt: string;
  endedAt: string | null;
  leaseSeconds: number;
  borrowedUntil: string | null;
  host: string | null;
  proof: string | null;
}

interface RevocationList {
  iss: string;
  org: string;
  iat: number;
  revoked: { leaseId: string; revokedAt: number; borrowedUntil: number }[];
}

const HOUR_MS = 3_600_000;

/**
 * Offline borrowing: a lease for days with a proof a tool verifies without the network, that
 * needs no heartbeat, holds a draw of its own, frees its credits when returned early, and
 * once revoked is listed in a signed revocation list while its credits stay held until
 * borrowedUntil.
 */
describe('offline borrowing', () => {
  let t: TestApp;
  let db: DataSource;
  let redis: Redis;
  let worker: INestApplicationContext;
  let org: { organizationId: string; adminKey: string };
  let engineer: { key: string; principalId: string };

  beforeAll(async () => {
    t = await TestApp.start();
    db = t.app.get(DataSource);
    redis = new Redis(process.env.REDIS_URL!);
    worker = await NestFactory.createApplicationContext(WorkerModule, { logger: false });
    org = await t.organization('borrowing');
    engineer = await t.principalWithKey(org.adminKey, 'CLIENT', { name: 'field-engineer', team: 'test-site' });
  });

  afterAll(async () => {
    redis.disconnect();
    await worker.close();
    await t.close();
  });

  async function borrow(input: Record<string, unknown>, key = engineer.key): Promise<GqlResult<{ borrow: Borrowed }>> {
    return t.gql<{ borrow: Borrowed }>(key, BORROW, { input: { host: 'laptop-17', ...input } });
  }

  async function borrowed(input: Record<string, unknown>, key = engineer.key): Promise<Borrowed> {
    const res = await borrow(input, key);
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    return res.data.borrow;
  }

  async function poolFigures(poolId: string) {
    const res = await t.gql<{ pool: { inUse: number; available: number; activeLeases: number; maxBorrowHours: number } }>(org.adminKey, POOL, { id: poolId });
    return res.data!.pool;
  }

  async function jwks(): Promise<JSONWebKeySet> {
    return (await request(t.server).get('/.well-known/jwks.json').expect(200)).body as JSONWebKeySet;
  }

  async function revocationList(organizationId = org.organizationId): Promise<{ raw: string; claims: RevocationList }> {
    const res = await request(t.server).get(`/.well-known/revoked-leases/${organizationId}`).buffer(true).parse(textParser).expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/jwt/);
    const raw = res.body as string;
    const { payload } = await jwtVerify(raw, createLocalJWKSet(await jwks()), { issuer: 'tokenpool', typ: 'tokenpool-revocations+jwt', algorithms: ['EdDSA'] });
    return { raw, claims: payload as unknown as RevocationList };
  }

  it('borrows for the hours asked: borrowedUntil is the expiry, the lease holds its cost, and the proof lasts until then', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 10, maxBorrowHours: 168, apps: [{ key: 'cfd', cost: 3 }] });
    const before = Date.now();
    const lease = await borrowed({ poolId: pool.poolId, app: pool.keyOf('cfd'), hours: 72 });
    expect(lease).toMatchObject({ state: 'ACTIVE', credits: 3, leaseSeconds: 72 * 3600, host: 'laptop-17', endedAt: null });
    expect(lease.borrowedUntil).toBe(lease.expiresAt);
    const until = Date.parse(lease.borrowedUntil!);
    expect(until - Date.parse(lease.acquiredAt)).toBe(72 * HOUR_MS);
    expect(Math.abs(until - (before + 72 * HOUR_MS))).toBeLessThan(60_000);
    expect(await poolFigures(pool.poolId)).toMatchObject({ inUse: 3, available: 7, activeLeases: 1, maxBorrowHours: 168 });

    const { payload, protectedHeader } = await jwtVerify(lease.proof!, createLocalJWKSet(await jwks()), { issuer: 'tokenpool' });
    expect(protectedHeader.typ).toBe('JWT');
    expect(payload).toMatchObject({ sub: lease.id, org: org.organizationId, pool: pool.poolId, exp: Math.floor(until / 1000) });
  });

  it('a tool verifies the proof offline with saved keys until borrowedUntil, and refuses it after (a test clock)', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 10, maxBorrowHours: 168, apps: [{ key: 'fea', cost: 1 }] });
    const lease = await borrowed({ poolId: pool.poolId, app: pool.keyOf('fea'), hours: 48 });
    // The keys are fetched once, while online; everything after uses only the saved copy.
    const saved = createLocalJWKSet(JSON.parse(JSON.stringify(await jwks())) as JSONWebKeySet);
    const until = Date.parse(lease.borrowedUntil!);
    const at = (ms: number) => jwtVerify(lease.proof!, saved, { issuer: 'tokenpool', typ: 'JWT', currentDate: new Date(ms) });

    await expect(at(Date.now() + 24 * HOUR_MS)).resolves.toMatchObject({ payload: { sub: lease.id } });
    await expect(at(until - 1000)).resolves.toMatchObject({ payload: { sub: lease.id } });
    await expect(at(until + 1000)).rejects.toBeInstanceOf(errors.JWTExpired);
    await expect(at(until + 30 * 24 * HOUR_MS)).rejects.toBeInstanceOf(errors.JWTExpired);
  });

  it('keeps the signing keys published for as long as the longest borrow can last', () => {
    expect(RETIRED_KEY_PUBLISHED_SECONDS).toBeGreaterThanOrEqual(720 * 3600);
  });

  it('needs no heartbeat: a heartbeat (single or batched) answers the lease as it is and never moves borrowedUntil', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 10, maxBorrowHours: 24, apps: [{ key: 'cam', cost: 1 }] });
    const lease = await borrowed({ poolId: pool.poolId, app: pool.keyOf('cam'), hours: 2 });
    const beat = await t.gql<{ heartbeat: Borrowed }>(engineer.key, HEARTBEAT, { id: lease.id });
    expect(beat.data!.heartbeat).toMatchObject({ id: lease.id, state: 'ACTIVE', expiresAt: lease.expiresAt, borrowedUntil: lease.borrowedUntil });
    const batch = await t.gql<{ heartbeats: { leaseId: string; code: string | null; lease: { expiresAt: string } | null }[] }>(engineer.key, HEARTBEATS, {
      ids: [lease.id],
    });
    expect(batch.data!.heartbeats).toEqual([
      { leaseId: lease.id, code: null, state: null, lease: { id: lease.id, expiresAt: lease.expiresAt, borrowedUntil: lease.borrowedUntil } },
    ]);
    const held = await t.app.get(LeaseStore).heldLeases(pool.poolId, [lease.id]);
    expect(held.expiresAtMs.get(lease.id)).toBe(Date.parse(lease.borrowedUntil!));
  });

  it('refuses BORROW_NOT_ALLOWED when the pool does not allow borrowing, and beyond its maxBorrowHours', async () => {
    const off = await createPool(t, org.adminKey, { cap: 10, apps: [{ key: 'cad', cost: 1 }] });
    expect((await poolFigures(off.poolId)).maxBorrowHours).toBe(0);
    const refusedOff = await borrow({ poolId: off.poolId, app: off.keyOf('cad'), hours: 1 });
    expect(codeOf(refusedOff)).toBe('BORROW_NOT_ALLOWED');
    expect(refusedOff.errors![0].extensions).toMatchObject({ maxBorrowHours: 0 });
    expect(refusedOff.errors![0].message).toMatch(/maxBorrowHours/);

    const short = await createPool(t, org.adminKey, { cap: 10, maxBorrowHours: 24, apps: [{ key: 'cad', cost: 1 }] });
    const tooLong = await borrow({ poolId: short.poolId, app: short.keyOf('cad'), hours: 25 });
    expect(codeOf(tooLong)).toBe('BORROW_NOT_ALLOWED');
    expect(tooLong.errors![0].extensions).toMatchObject({ maxBorrowHours: 24, field: 'input.hours' });
    expect(codeOf(await borrow({ poolId: short.poolId, app: short.keyOf('cad'), hours: 0 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await borrow({ poolId: short.poolId, app: short.keyOf('cad'), hours: 24, host: '  ' }))).toBe('BAD_USER_INPUT');
    // Nothing was held by the refusals.
    expect((await poolFigures(short.poolId)).inUse).toBe(0);

    // The admin opens borrowing up; 720 h is the most a pool may allow.
    const opened = await t.gql<{ updatePool: { maxBorrowHours: number } }>(org.adminKey, UPDATE_POOL, { id: off.poolId, input: { maxBorrowHours: 720 } });
    expect(opened.data!.updatePool.maxBorrowHours).toBe(720);
    const over = await t.gql(org.adminKey, UPDATE_POOL, { id: off.poolId, input: { maxBorrowHours: 721 } });
    expect(codeOf(over)).toBe('BAD_USER_INPUT');
    expect(over.errors![0].extensions.field).toBe('input.maxBorrowHours');
    expect((await borrowed({ poolId: off.poolId, app: off.keyOf('cad'), hours: 720 })).leaseSeconds).toBe(720 * 3600);
  });

  it('holds a draw of its own: a shared app never lets another lease join a borrowed one', async () => {
    const pool = await createPool(t, org.adminKey, {
      cap: 10,
      maxBorrowHours: 24,
      apps: [{ key: 'viewer', cost: 2, shareScope: 'PRINCIPAL', lingerSeconds: 600 }],
    });
    const lease = await borrowed({ poolId: pool.poolId, app: pool.keyOf('viewer'), hours: 8 });
    const checkedOut = (await t.gql<{ checkout: LeaseShape }>(engineer.key, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('viewer') } })).data!
      .checkout;
    expect(checkedOut.credits).toBe(2);
    const again = (await t.gql<{ checkout: LeaseShape }>(engineer.key, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('viewer') } })).data!.checkout;
    expect(again.credits).toBe(0); // the check-outs share with each other, not with the borrow
    const second = await borrowed({ poolId: pool.poolId, app: pool.keyOf('viewer'), hours: 8 });
    expect(second.credits).toBe(2);
    expect((await poolFigures(pool.poolId)).inUse).toBe(6);
    const draws: { draw_id: string }[] = await db.query('SELECT DISTINCT draw_id FROM leases WHERE id = ANY($1::uuid[])', [
      [lease.id, checkedOut.id, second.id],
    ]);
    expect(draws).toHaveLength(3);
    // Returned, the borrow frees its credits at once: no linger for another lease to take over.
    await t.gql(engineer.key, RETURN, { id: lease.id });
    expect((await poolFigures(pool.poolId)).inUse).toBe(4);
  });

  it('returned early, frees its credits at once; returning again answers the lease as it is', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 4, maxBorrowHours: 168, apps: [{ key: 'solver', cost: 4 }] });
    const lease = await borrowed({ poolId: pool.poolId, app: pool.keyOf('solver'), hours: 100 });
    expect(codeOf(await borrow({ poolId: pool.poolId, app: pool.keyOf('solver'), hours: 1 }))).toBe('POOL_EXHAUSTED');

    const returned = (await t.gql<{ returnBorrowed: Borrowed }>(engineer.key, RETURN, { id: lease.id })).data!.returnBorrowed;
    expect(returned).toMatchObject({ id: lease.id, state: 'RELEASED', proof: null, borrowedUntil: lease.borrowedUntil });
    expect(Date.parse(returned.endedAt!)).toBeLessThan(Date.parse(lease.borrowedUntil!));
    expect(await poolFigures(pool.poolId)).toMatchObject({ inUse: 0, available: 4, activeLeases: 0 });
    const again = (await t.gql<{ returnBorrowed: Borrowed }>(engineer.key, RETURN, { id: lease.id })).data!.returnBorrowed;
    expect(again).toMatchObject({ state: 'RELEASED', endedAt: returned.endedAt });
    expect((await borrowed({ poolId: pool.poolId, app: pool.keyOf('solver'), hours: 1 })).credits).toBe(4);

    // The draw is charged like any other when it ends: from its borrow to its return. (The
    // worker's own schedule sweeps too, so this waits for whichever sweep records it.)
    const drawOf = (): Promise<{ credits: number; ended_at: Date }[]> => db.query('SELECT * FROM lease_draws WHERE opener_lease_id = $1', [lease.id]);
    await waitFor(async () => {
      await worker.get(LeaseSweepService).sweepAll();
      return (await drawOf()).length === 1;
    }, 'the returned borrow charged');
    const [draw] = await drawOf();
    expect(draw).toMatchObject({ credits: 4 });
    expect(Math.abs(draw.ended_at.getTime() - Date.parse(returned.endedAt!))).toBeLessThan(5000);
  });

  it('lets only the holder (or an admin) return it, and only a borrowed lease', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 10, maxBorrowHours: 24, apps: [{ key: 'cad', cost: 1 }] });
    const lease = await borrowed({ poolId: pool.poolId, app: pool.keyOf('cad'), hours: 1 });
    const colleague = await t.principalWithKey(org.adminKey, 'CLIENT', { name: 'colleague' });
    expect(codeOf(await t.gql(colleague.key, RETURN, { id: lease.id }))).toBe('NOT_FOUND');
    const other = await t.organization('borrowing-other');
    expect(codeOf(await t.gql(other.adminKey, RETURN, { id: lease.id }))).toBe('NOT_FOUND');
    const checkedOut = (await t.gql<{ checkout: LeaseShape }>(engineer.key, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('cad') } })).data!
      .checkout;
    const notBorrowed = await t.gql(engineer.key, RETURN, { id: checkedOut.id });
    expect(codeOf(notBorrowed)).toBe('BAD_USER_INPUT');
    expect(notBorrowed.errors![0].message).toMatch(/checkin/);
    expect((await t.gql<{ returnBorrowed: Borrowed }>(org.adminKey, RETURN, { id: lease.id })).data!.returnBorrowed.state).toBe('RELEASED');
  });

  it('revoked, is listed in a correctly signed revocation list and keeps its credits held until borrowedUntil', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 5, maxBorrowHours: 168, apps: [{ key: 'cfd', cost: 5 }] });
    const lease = await borrowed({ poolId: pool.poolId, app: pool.keyOf('cfd'), hours: 24 });
    const before = await revocationList();
    expect(before.claims.revoked.map((r) => r.leaseId)).not.toContain(lease.id);

    const revokedAt = Date.now();
    const revoked = (await t.gql<{ revokeLease: Borrowed }>(org.adminKey, REVOKE, { id: lease.id })).data!.revokeLease;
    expect(revoked).toMatchObject({ id: lease.id, state: 'REVOKED', proof: null, borrowedUntil: lease.borrowedUntil });
    expect(Math.abs(Date.parse(revoked.endedAt!) - revokedAt)).toBeLessThan(60_000);

    const { raw, claims } = await revocationList();
    expect(decodeProtectedHeader(raw)).toEqual({ alg: 'EdDSA', typ: 'tokenpool-revocations+jwt', kid: expect.any(String) });
    expect(claims).toMatchObject({ iss: 'tokenpool', org: org.organizationId });
    expect(Math.abs(claims.iat * 1000 - Date.now())).toBeLessThan(60_000);
    expect(claims.revoked).toContainEqual({
      leaseId: lease.id,
      revokedAt: Math.floor(Date.parse(revoked.endedAt!) / 1000),
      borrowedUntil: Math.floor(Date.parse(lease.borrowedUntil!) / 1000),
    });

    // The tool may still run offline on its proof: the credits stay held, the cap stays honest.
    expect(await poolFigures(pool.poolId)).toMatchObject({ inUse: 5, available: 0 });
    expect(codeOf(await t.gql(engineer.key, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('cfd') } }))).toBe('POOL_EXHAUSTED');
    // Returning it now changes nothing; a heartbeat learns it ended.
    expect((await t.gql<{ returnBorrowed: Borrowed }>(engineer.key, RETURN, { id: lease.id })).data!.returnBorrowed.state).toBe('REVOKED');
    const beat = await t.gql(engineer.key, HEARTBEAT, { id: lease.id });
    expect(codeOf(beat)).toBe('LEASE_NOT_ACTIVE');
    expect(beat.errors![0].extensions.state).toBe('REVOKED');
    expect((await poolFigures(pool.poolId)).inUse).toBe(5);

    // The sweep neither frees it nor charges its draw before borrowedUntil.
    await worker.get(LeaseSweepService).sweepAll();
    expect(await worker.get(LeaseDrawsService).unreported(pool.poolId)).toEqual([]);
    expect(await db.query('SELECT id FROM lease_draws WHERE opener_lease_id = $1', [lease.id])).toEqual([]);
    expect((await poolFigures(pool.poolId)).inUse).toBe(5);
    const [row]: { ended_at: Date; revoked_at: Date }[] = await db.query('SELECT ended_at, revoked_at FROM leases WHERE id = $1', [lease.id]);
    expect(row.ended_at.getTime()).toBe(Date.parse(lease.borrowedUntil!));
    expect(row.revoked_at.toISOString()).toBe(revoked.endedAt);

    // Online, verifyLease says it was revoked; the list is not a proof.
    expect((await t.gql<{ verifyLease: { valid: boolean; reason: string } }>(engineer.key, VERIFY, { proof: lease.proof })).data!.verifyLease).toEqual({
      valid: false,
      reason: 'REVOKED',
    });
    expect((await t.gql<{ verifyLease: { valid: boolean; reason: string } }>(engineer.key, VERIFY, { proof: raw })).data!.verifyLease).toEqual({
      valid: false,
      reason: 'BAD_SIGNATURE',
    });
  });

  it("lists only the organization's own revocations; an id that is not a UUID is NOT_FOUND", async () => {
    const other = await t.organization('borrowing-elsewhere');
    const pool = await createPool(t, org.adminKey, { cap: 5, maxBorrowHours: 24, apps: [{ key: 'cad', cost: 1 }] });
    const lease = await borrowed({ poolId: pool.poolId, app: pool.keyOf('cad'), hours: 1 });
    await t.gql(org.adminKey, REVOKE, { id: lease.id });
    expect((await revocationList()).claims.revoked.map((r) => r.leaseId)).toContain(lease.id);
    expect((await revocationList(other.organizationId)).claims).toMatchObject({ org: other.organizationId, revoked: [] });
    const bad = await request(t.server).get('/.well-known/revoked-leases/not-an-id').expect(404);
    expect(bad.body.errors[0].extensions.code).toBe('NOT_FOUND');
    // Another organization's admin cannot revoke it, nor see it.
    expect(codeOf(await t.gql(other.adminKey, REVOKE, { id: lease.id }))).toBe('NOT_FOUND');
    expect((await t.gql<{ lease: null }>(other.adminKey, LEASE, { id: lease.id })).data!.lease).toBeNull();
  });

  it('counts borrowed credits under a concurrent check-out race: never over the cap', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 10, maxBorrowHours: 24, apps: [{ key: 'cad', cost: 1 }] });
    const users = await Promise.all([0, 1, 2, 3].map((i) => t.principalWithKey(org.adminKey, 'CLIENT', { name: `racer-${i}` })));
    const asks = Array.from({ length: 40 }, (_, i) => {
      const key = users[i % users.length].key;
      return i % 2 === 0
        ? borrow({ poolId: pool.poolId, app: pool.keyOf('cad'), hours: 4 }, key).then((r) => ({
            borrowed: true,
            code: codeOf(r),
            credits: r.data?.borrow.credits ?? 0,
          }))
        : t
            .gql<{ checkout: LeaseShape }>(key, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('cad') } })
            .then((r) => ({ borrowed: false, code: codeOf(r), credits: r.data?.checkout.credits ?? 0 }));
    });
    const results = await Promise.all(asks);
    const granted = results.filter((r) => r.code === undefined);
    expect(granted).toHaveLength(10);
    expect(granted.reduce((sum, r) => sum + r.credits, 0)).toBe(10);
    expect(results.filter((r) => r.code !== undefined).every((r) => r.code === 'POOL_EXHAUSTED')).toBe(true);
    expect(granted.some((r) => r.borrowed)).toBe(true);
    const [{ held }]: { held: number }[] = await db.query(`SELECT sum(credits)::int AS held FROM leases WHERE pool_id = $1 AND state = 'ACTIVE'`, [
      pool.poolId,
    ]);
    expect(held).toBe(10);
    expect((await poolFigures(pool.poolId)).inUse).toBe(10);
  });

  it('after a Redis data loss, restores borrowed leases from PostgreSQL, revoked ones with their credits, until borrowedUntil', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 6, maxBorrowHours: 168, apps: [{ key: 'cfd', cost: 2, shareScope: 'PRINCIPAL' }] });
    const kept = await borrowed({ poolId: pool.poolId, app: pool.keyOf('cfd'), hours: 30 });
    const revoked = await borrowed({ poolId: pool.poolId, app: pool.keyOf('cfd'), hours: 60 });
    await t.gql(org.adminKey, REVOKE, { id: revoked.id });
    expect((await poolFigures(pool.poolId)).inUse).toBe(4);

    const store = t.app.get(LeaseStore);
    await unlinkPrefix(redis, store.keys(pool.poolId).base);
    let after = await borrow({ poolId: pool.poolId, app: pool.keyOf('cfd'), hours: 1 });
    await waitFor(async () => codeOf((after = await borrow({ poolId: pool.poolId, app: pool.keyOf('cfd'), hours: 1 }))) !== 'UNAVAILABLE', 'the rebuilt pool');
    expect(after.data!.borrow.credits).toBe(2);
    // Both borrows are held again (2 + 2), with the new one: the pool is full.
    expect(await poolFigures(pool.poolId)).toMatchObject({ inUse: 6, available: 0 });
    expect(codeOf(await borrow({ poolId: pool.poolId, app: pool.keyOf('cfd'), hours: 1 }))).toBe('POOL_EXHAUSTED');
    // The restored borrows hold draws of their own: a check-out of the shared app joins none of them.
    expect(codeOf(await t.gql(engineer.key, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('cfd') } }))).toBe('POOL_EXHAUSTED');
    const held = await store.heldLeases(pool.poolId, [kept.id, revoked.id]);
    expect(held.expiresAtMs.get(kept.id)).toBe(Date.parse(kept.borrowedUntil!));
    expect(held.expiresAtMs.get(revoked.id)).toBe(Date.parse(revoked.borrowedUntil!));
    const lease = (await t.gql<{ lease: Borrowed }>(engineer.key, LEASE, { id: kept.id })).data!.lease;
    expect(lease).toMatchObject({ state: 'ACTIVE', expiresAt: kept.borrowedUntil, borrowedUntil: kept.borrowedUntil });

    // Returned after the rebuild, the restored borrow frees its credits.
    await t.gql(engineer.key, RETURN, { id: kept.id });
    expect((await poolFigures(pool.poolId)).inUse).toBe(4);
  });

  it('a retry with the same idempotency key returns the same borrow; the key reused for a check-out conflicts', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 10, maxBorrowHours: 24, maxLeaseSeconds: 4 * 3600, apps: [{ key: 'cad', cost: 1 }] });
    const input = { poolId: pool.poolId, app: pool.keyOf('cad'), hours: 3, idempotencyKey: 'trip-to-site-b' };
    const [a, b] = await Promise.all([borrowed(input), borrowed(input)]);
    expect(b.id).toBe(a.id);
    expect((await poolFigures(pool.poolId)).inUse).toBe(1);
    const reused = await t.gql(engineer.key, CHECKOUT, {
      input: { poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 3 * 3600, idempotencyKey: 'trip-to-site-b', host: 'laptop-17' },
    });
    expect(codeOf(reused)).toBe('IDEMPOTENCY_CONFLICT');
  });
});

function textParser(res: request.Response, callback: (err: Error | null, body: string) => void): void {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => (text += chunk));
  res.on('end', () => callback(null, text));
}
