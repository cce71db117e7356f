import { TokenpoolClient, TokenpoolError } from '@tokenpool/client';
import { poolWithApp, useSdkWorld } from './fixtures';

/** withLease, TokenpoolError's fields and offline proof checks, against a real API process. */
describe('SDK leases', () => {
  const world = useSdkWorld();

  const inUse = async (poolId: string) => (await world.admin.pools()).find((p) => p.id === poolId)?.inUse;

  it('withLease passes fn’s value through and releases the lease', async () => {
    const { poolId, appKey } = await poolWithApp(world.admin, { cap: 10, cost: 3 });
    const result = await world.admin.withLease({ poolId, app: appKey, host: 'ws-17', leaseSeconds: 60 }, async (lease) => {
      expect(lease.signal.aborted).toBe(false);
      expect(lease).toMatchObject({ poolId, app: appKey, credits: 3, host: 'ws-17', leaseSeconds: 60 });
      expect(lease.fencingToken).toMatch(/^\d+$/);
      expect(lease.expiresAt.getTime()).toBeGreaterThan(Date.now() + 50_000);
      expect(await inUse(poolId)).toBe(3);
      return { answer: 42 };
    });
    expect(result).toEqual({ answer: 42 });
    expect(await inUse(poolId)).toBe(0);
    expect(world.admin.leasesHeld).toHaveLength(0);
  });

  it('withLease rethrows what fn throws and releases the lease', async () => {
    const { poolId, appKey } = await poolWithApp(world.admin, { cap: 10, cost: 3 });
    const failure = new Error('solver crashed');
    let leaseId = '';
    await expect(
      world.admin.withLease({ poolId, app: appKey, leaseSeconds: 60 }, async (lease) => {
        leaseId = lease.id;
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await inUse(poolId)).toBe(0);
    const [row] = await world.admin.leases({ poolId });
    expect(row).toMatchObject({ id: leaseId, state: 'RELEASED', app: { key: appKey }, pool: { id: poolId } });
  });

  it('release() is idempotent, also after an admin revoked the lease', async () => {
    const { poolId, appKey } = await poolWithApp(world.admin, { cap: 10, cost: 1 });
    const lease = await world.admin.checkout({ poolId, app: appKey, leaseSeconds: 60 });
    await world.admin.revokeLease(lease.id, 'harvest');
    await expect(lease.release()).resolves.toBeUndefined();
    await expect(lease.release()).resolves.toBeUndefined();
    const again = await world.admin.checkout({ poolId, app: appKey, leaseSeconds: 60 });
    await Promise.all([again.release(), again.release()]);
    expect(await inUse(poolId)).toBe(0);
  });

  it('answers POOL_EXHAUSTED with available and requested, at once', async () => {
    const { poolId, appKey } = await poolWithApp(world.admin, { cap: 10, cost: 4 });
    const held = [await world.admin.checkout({ poolId, app: appKey }), await world.admin.checkout({ poolId, app: appKey })];
    const started = Date.now();
    const err = await world.admin.checkout({ poolId, app: appKey }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenpoolError);
    expect(err).toMatchObject({ code: 'POOL_EXHAUSTED', available: 2, requested: 4 });
    expect((err as TokenpoolError).extensions).toMatchObject({ code: 'POOL_EXHAUSTED', available: 2, requested: 4 });
    expect((err as TokenpoolError).retryAfterSeconds).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(2_000); // not retried
    const quote = await world.admin.quote({ poolId, app: appKey });
    expect(quote).toMatchObject({ cost: 4, grantable: false, available: 2, queueLength: 0 });
    await Promise.all(held.map((l) => l.release()));
  });

  it('waits in the queue with waitSeconds: granted when credits free up, QUEUE_TIMEOUT when they do not', async () => {
    const { poolId, appKey } = await poolWithApp(world.admin, { cap: 1, cost: 1 });
    const held = await world.admin.checkout({ poolId, app: appKey });
    const waiting = world.admin.checkout({ poolId, app: appKey, waitSeconds: 20 });
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await world.admin.pools()).find((p) => p.id === poolId)).toMatchObject({ queueLength: 1 });
    await held.release();
    const granted = await waiting;
    expect(granted.signal.aborted).toBe(false);
    const started = Date.now();
    const err = await world.admin.checkout({ poolId, app: appKey, waitSeconds: 2 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'QUEUE_TIMEOUT', available: 0, requested: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    await granted.release();
  });

  it('answers UNAUTHENTICATED for a bad key, without the key in the error', async () => {
    const bogus = 'tp_not_a_real_key_0123456789abcdef';
    const stranger = new TokenpoolClient({ url: world.api.url, apiKey: bogus });
    const err = await stranger.pools().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(`${String(err)} ${JSON.stringify(err)} ${(err as Error).stack}`).not.toContain(bogus);
    await stranger.close();
  });

  it('currentKey names the key’s role and principal', async () => {
    const key = await world.admin.currentKey();
    expect(key.role).toBe('ADMIN');
    expect(key.principal.name).toBeTruthy();
  });

  it('verifies a real proof offline, and rejects a tampered one (BAD_SIGNATURE) and an expired one (EXPIRED)', async () => {
    const { poolId, appKey, appId } = await poolWithApp(world.admin, { cap: 10, cost: 1 });
    const short = await world.admin.checkout({ poolId, app: appKey, leaseSeconds: 5 });
    const lease = await world.admin.checkout({ poolId, app: appKey, leaseSeconds: 60 });
    expect(lease.proof).toEqual(expect.any(String));
    const claims = await world.admin.verifyProof(lease.proof!);
    expect(claims).toMatchObject({ iss: 'tokenpool', sub: lease.id, pool: poolId, app: appId, fence: lease.fencingToken });
    expect(claims.exp).toBe(Math.floor(lease.expiresAt.getTime() / 1000));

    const [header, payload, signature] = lease.proof!.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 3600 })).toString('base64url');
    await expect(world.admin.verifyProof(`${header}.${forged}.${signature}`)).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
    const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
    await expect(world.admin.verifyProof(`${header}.${payload}.${flipped}`)).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });
    await expect(world.admin.verifyProof('not a jwt')).rejects.toMatchObject({ code: 'BAD_SIGNATURE' });

    // The short lease's proof carries the exp it was granted with: wait past it.
    const proof = short.proof!;
    await short.release();
    await new Promise((r) => setTimeout(r, Math.max(0, short.expiresAt.getTime() - Date.now()) + 1_100));
    await expect(world.admin.verifyProof(proof)).rejects.toMatchObject({ code: 'EXPIRED' });
    await lease.release();
  });
});
