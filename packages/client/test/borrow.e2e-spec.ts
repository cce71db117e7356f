import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import {
  assertNotRevoked,
  fetchJwks,
  fetchRevocationList,
  TokenpoolError,
  verifyProofOffline,
  verifyRevocationList,
  type JSONWebKeySet,
} from '@tokenpool/client';
import { countingClient, useSdkWorld } from './fixtures';

const UPDATE_POOL = 'mutation($id: ID!, $input: UpdatePoolInput!) { updatePool(id: $id, input: $input) { id maxBorrowHours } }';
const POOL_FIGURES = 'query { pools { id inUse } }';

/**
 * Borrowing through the SDK against a real API process: borrow and its proof, offline
 * verification with saved keys under a test clock, BORROW_NOT_ALLOWED, returnBorrowed, and
 * the signed revocation list.
 */
describe('SDK borrowing', () => {
  const world = useSdkWorld();
  let poolId: string;
  let appKey: string;
  let keys: JSONWebKeySet;

  async function inUse(id: string): Promise<number> {
    const { pools } = await world.admin.request<{ pools: { id: string; inUse: number }[] }>(POOL_FIGURES);
    return pools.find((p) => p.id === id)!.inUse;
  }

  async function errorOf(promise: Promise<unknown>): Promise<TokenpoolError> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokenpoolError);
    return err as TokenpoolError;
  }

  beforeAll(async () => {
    const pool = await world.admin.createPool({ name: `borrow-${randomUUID()}`, cap: 20, maxBorrowHours: 72 });
    poolId = pool.id;
    appKey = `app-${randomUUID().slice(0, 8)}`;
    await world.admin.createApp({ poolId, key: appKey, name: appKey, cost: 2 });
    keys = await fetchJwks(world.api.url);
  });

  it('borrows for hours: borrowedUntil is now + hours, the proof expires then, and no heartbeat is started', async () => {
    const before = Date.now();
    const lease = await world.admin.borrow({ poolId, app: appKey, hours: 48, host: 'laptop-7' });
    const after = Date.now();
    expect(lease).toMatchObject({ state: 'ACTIVE', poolId, app: appKey, credits: 2, host: 'laptop-7', workUnitId: null });
    expect(lease.borrowedUntil.getTime()).toBeGreaterThanOrEqual(before + 48 * 3600_000 - 1000);
    expect(lease.borrowedUntil.getTime()).toBeLessThanOrEqual(after + 48 * 3600_000 + 1000);
    expect(typeof lease.proof).toBe('string');
    expect(decodeProtectedHeader(lease.proof!)).toMatchObject({ alg: 'EdDSA', typ: 'JWT' });
    const claims = await verifyProofOffline(lease.proof!, { keys });
    expect(claims).toMatchObject({ iss: 'tokenpool', sub: lease.id, pool: poolId, fence: lease.fencingToken });
    expect(claims.exp).toBe(Math.floor(lease.borrowedUntil.getTime() / 1000));
    // Not one of the client's heartbeated leases: close() would otherwise check it in.
    expect(world.admin.leasesHeld.map((l) => l.id)).not.toContain(lease.id);
    expect(await inUse(poolId)).toBe(2);
    await world.admin.returnBorrowed(lease.id);
    expect(await inUse(poolId)).toBe(0);
  });

  it('verifies offline with the saved keys until borrowedUntil on a test clock, and EXPIRED from then on', async () => {
    const lease = await world.admin.borrow({ poolId, app: appKey, hours: 2, host: 'laptop-8' });
    const proof = lease.proof!;
    const exp = Math.floor(lease.borrowedUntil.getTime() / 1000);
    // No network: a fetch that fails the test if anything calls it.
    const origFetch = globalThis.fetch;
    globalThis.fetch = (() => Promise.reject(new Error('offline verification fetched something'))) as typeof fetch;
    try {
      await expect(verifyProofOffline(proof, { keys })).resolves.toMatchObject({ sub: lease.id, exp });
      await expect(verifyProofOffline(proof, { keys, now: new Date((exp - 1) * 1000) })).resolves.toMatchObject({ sub: lease.id });
      const expired = await errorOf(verifyProofOffline(proof, { keys, now: new Date((exp + 1) * 1000) }));
      expect(expired.code).toBe('EXPIRED');
      // At exp itself it is over.
      expect((await errorOf(verifyProofOffline(proof, { keys, now: new Date(exp * 1000) }))).code).toBe('EXPIRED');
      // The client's verifyProof with saved keys is the same offline check.
      expect((await errorOf(world.admin.verifyProof(proof, { keys, now: new Date((exp + 1) * 1000) }))).code).toBe('EXPIRED');
      await expect(world.admin.verifyProof(proof, { keys, now: new Date((exp - 1) * 1000) })).resolves.toMatchObject({ sub: lease.id });
      // A tampered proof, and keys that are not the server's.
      const [h, p, s] = proof.split('.');
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), exp: exp + 3600 })).toString('base64url')}.${s}`;
      expect((await errorOf(verifyProofOffline(tampered, { keys }))).code).toBe('BAD_SIGNATURE');
      expect((await errorOf(verifyProofOffline(proof, { keys: { keys: [] } }))).code).toBe('BAD_SIGNATURE');
    } finally {
      globalThis.fetch = origFetch;
    }
    // Online (the client fetches the keys), the same clock rules hold.
    expect((await errorOf(world.admin.verifyProof(proof, { now: new Date((exp + 1) * 1000) }))).code).toBe('EXPIRED');
    await expect(world.admin.verifyProof(proof)).resolves.toMatchObject({ sub: lease.id });
    await world.admin.returnBorrowed(lease.id);
  });

  it('refuses BORROW_NOT_ALLOWED with maxBorrowHours, beyond the pool’s limit and when borrowing is off, without a retry', async () => {
    const { client, sent } = countingClient({ url: world.api.url, apiKey: world.adminKey }, 'Borrow(');
    try {
      const tooLong = await errorOf(client.borrow({ poolId, app: appKey, hours: 73, host: 'laptop-9' }));
      expect(tooLong.code).toBe('BORROW_NOT_ALLOWED');
      expect(tooLong.maxBorrowHours).toBe(72);
      expect(tooLong.extensions).toMatchObject({ code: 'BORROW_NOT_ALLOWED', maxBorrowHours: 72 });
      expect(sent).toHaveLength(1);

      const off = await world.admin.createPool({ name: `no-borrow-${randomUUID()}`, cap: 5 });
      expect(off.maxBorrowHours).toBe(0);
      const offApp = `app-${randomUUID().slice(0, 8)}`;
      await world.admin.createApp({ poolId: off.id, key: offApp, name: offApp, cost: 1 });
      const offErr = await errorOf(client.borrow({ poolId: off.id, app: offApp, hours: 1, host: 'laptop-9' }));
      expect(offErr.code).toBe('BORROW_NOT_ALLOWED');
      expect(offErr.maxBorrowHours).toBe(0);

      // Allowed once an admin sets maxBorrowHours; set back to 0, refused again.
      await world.admin.request(UPDATE_POOL, { id: off.id, input: { maxBorrowHours: 4 } });
      const ok = await client.borrow({ poolId: off.id, app: offApp, hours: 4, host: 'laptop-9' });
      expect(ok.state).toBe('ACTIVE');
      await client.returnBorrowed(ok.id);
      await world.admin.request(UPDATE_POOL, { id: off.id, input: { maxBorrowHours: 0 } });
      expect((await errorOf(client.borrow({ poolId: off.id, app: offApp, hours: 1, host: 'laptop-9' }))).maxBorrowHours).toBe(0);
      expect(await inUse(off.id)).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('returnBorrowed ends the borrow (RELEASED), frees its credits, and is idempotent', async () => {
    const lease = await world.admin.borrow({ poolId, app: appKey, hours: 1, host: 'laptop-10', idempotencyKey: randomUUID() });
    expect(await inUse(poolId)).toBe(2);
    const returned = await world.admin.returnBorrowed(lease.id);
    expect(returned).toMatchObject({ id: lease.id, state: 'RELEASED' });
    expect(returned.endedAt).toBeInstanceOf(Date);
    expect(returned.borrowedUntil?.getTime()).toBe(lease.borrowedUntil.getTime());
    expect(await inUse(poolId)).toBe(0);
    const again = await world.admin.returnBorrowed(lease.id);
    expect(again).toMatchObject({ id: lease.id, state: 'RELEASED' });
    expect(again.endedAt?.getTime()).toBe(returned.endedAt!.getTime());
    expect(await inUse(poolId)).toBe(0);
  });

  it('the same idempotencyKey borrows once', async () => {
    const idempotencyKey = randomUUID();
    const first = await world.admin.borrow({ poolId, app: appKey, hours: 1, host: 'laptop-11', idempotencyKey });
    const second = await world.admin.borrow({ poolId, app: appKey, hours: 1, host: 'laptop-11', idempotencyKey });
    expect(second.id).toBe(first.id);
    expect(await inUse(poolId)).toBe(2);
    await world.admin.returnBorrowed(first.id);
  });

  it('lists a revoked borrow in the signed revocation list, and the offline check then refuses its proof REVOKED', async () => {
    const lease = await world.admin.borrow({ poolId, app: appKey, hours: 3, host: 'laptop-12' });
    const other = await world.admin.borrow({ poolId, app: appKey, hours: 3, host: 'laptop-13' });
    const proof = lease.proof!;
    const orgId = await world.admin.organizationId();
    expect((await verifyProofOffline(proof, { keys })).org).toBe(orgId);

    const before = await world.admin.revocationList();
    expect(before.org).toBe(orgId);
    expect(before.revoked.map((r) => r.leaseId)).not.toContain(lease.id);
    await expect(verifyProofOffline(proof, { keys, revocationList: before })).resolves.toMatchObject({ sub: lease.id });

    const revokedAt = Date.now();
    await world.admin.revokeLease(lease.id, 'laptop lost');
    const list = await fetchRevocationList(world.api.url, orgId);
    expect(decodeProtectedHeader(list.jws)).toMatchObject({ alg: 'EdDSA', typ: 'tokenpool-revocations+jwt' });
    expect(list).toMatchObject({ iss: 'tokenpool', org: orgId });
    const entry = list.revoked.find((r) => r.leaseId === lease.id);
    expect(entry).toEqual({ leaseId: lease.id, revokedAt: expect.any(Number), borrowedUntil: Math.floor(lease.borrowedUntil.getTime() / 1000) });
    expect(Math.abs(entry!.revokedAt * 1000 - revokedAt)).toBeLessThan(10_000);
    expect(list.revoked.map((r) => r.leaseId)).not.toContain(other.id);

    // The saved JWS verifies offline with the saved keys, and the client's method gives the same list.
    expect(await verifyRevocationList(list.jws, { keys })).toMatchObject({ org: orgId, revoked: list.revoked });
    expect((await world.admin.revocationList({ keys })).revoked).toEqual(list.revoked);

    const refused = await errorOf(verifyProofOffline(proof, { keys, revocationList: list }));
    expect(refused.code).toBe('REVOKED');
    expect(refused.extensions).toMatchObject({ leaseId: lease.id, revokedAt: entry!.revokedAt });
    expect((await errorOf(verifyProofOffline(proof, { keys, revocationList: list.jws }))).code).toBe('REVOKED');
    expect(() => assertNotRevoked({ sub: lease.id, org: orgId }, list)).toThrow(TokenpoolError);
    expect((await errorOf(world.admin.verifyProof(proof, { revocationList: list }))).code).toBe('REVOKED');
    // A borrow the list does not name still passes the same check.
    await expect(verifyProofOffline(other.proof!, { keys, revocationList: list })).resolves.toMatchObject({ sub: other.id });
    // A list of another organization is no check of this proof.
    expect((await errorOf(verifyProofOffline(other.proof!, { keys, revocationList: { ...list, org: randomUUID() } }))).code).toBe('BAD_REQUEST');
    await world.admin.returnBorrowed(other.id);
  });

  it('never takes a revocation list for a proof, nor a proof for a revocation list', async () => {
    const list = await world.admin.revocationList();
    const asProof = await errorOf(verifyProofOffline(list.jws, { keys }));
    expect(asProof.code).toBe('BAD_SIGNATURE');
    expect(asProof.message).toContain('typ');
    expect((await errorOf(world.admin.verifyProof(list.jws))).code).toBe('BAD_SIGNATURE');

    const lease = await world.admin.borrow({ poolId, app: appKey, hours: 1, host: 'laptop-14' });
    expect((await errorOf(verifyRevocationList(lease.proof!, { keys }))).code).toBe('BAD_SIGNATURE');
    expect((await errorOf(verifyProofOffline(lease.proof!, { keys, revocationList: lease.proof! }))).code).toBe('BAD_SIGNATURE');
    await world.admin.returnBorrowed(lease.id);
  });
});
