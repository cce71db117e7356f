import { TokenpoolClient, TokenpoolError, type Lease } from '@tokenpool/client';
import { startTcpProxy } from '../../../test/support/processes';
import { poolWithApp, useSdkWorld } from './fixtures';

/** Resolves with the abort's reason and the local time it happened. */
function aborted(lease: Lease): Promise<{ reason: unknown; at: number }> {
  return new Promise((resolve) => lease.signal.addEventListener('abort', () => resolve({ reason: lease.signal.reason, at: Date.now() }), { once: true }));
}

/** lease.signal: a revocation heard within half the lease length; an unreachable server ends the lease at its local expiry. */
describe('SDK lease.signal', () => {
  const world = useSdkWorld();

  it('aborts within half the lease length after revokeLease, with LEASE_NOT_ACTIVE / REVOKED; the other lease goes on', async () => {
    const { poolId, appKey } = await poolWithApp(world.admin, { cap: 10, cost: 1 });
    const holder = new TokenpoolClient({ url: world.api.url, apiKey: world.adminKey });
    const revoked = await holder.checkout({ poolId, app: appKey, leaseSeconds: 8 });
    const kept = await holder.checkout({ poolId, app: appKey, leaseSeconds: 8 });
    const abort = aborted(revoked);
    const at = Date.now();
    await world.admin.revokeLease(revoked.id, 'harvest');
    const { reason, at: abortedAt } = await abort;
    expect(abortedAt - at).toBeLessThan(4_000);
    expect(reason).toBeInstanceOf(TokenpoolError);
    expect(reason).toMatchObject({ code: 'LEASE_NOT_ACTIVE', state: 'REVOKED' });
    // The other lease of the same client is still heartbeated past its first length.
    await new Promise((r) => setTimeout(r, 5_000));
    expect(kept.signal.aborted).toBe(false);
    expect(kept.expiresAt.getTime()).toBeGreaterThan(Date.now() + 4_000);
    expect(holder.leasesHeld.map((l) => l.id)).toEqual([kept.id]);
    await holder.close();
    expect((await world.admin.leases({ poolId })).map((l) => [l.id, l.state]).sort()).toEqual(
      [
        [revoked.id, 'REVOKED'],
        [kept.id, 'RELEASED'],
      ].sort(),
    );
  });

  it('aborts with LEASE_LOST at the lease’s expiry on the local clock when the server stays unreachable', async () => {
    const { poolId, appKey } = await poolWithApp(world.admin, { cap: 10, cost: 1 });
    const proxy = await startTcpProxy(Number(new URL(world.api.url).port));
    const holder = new TokenpoolClient({ url: `http://127.0.0.1:${proxy.port}`, apiKey: world.adminKey });
    const lease = await holder.checkout({ poolId, app: appKey, leaseSeconds: 8 });
    const beats: number[] = [];
    lease.onHeartbeat(() => beats.push(Date.now()));
    await new Promise((r) => setTimeout(r, 3_000)); // one heartbeat at least
    expect(beats.length).toBeGreaterThanOrEqual(1);
    const abort = aborted(lease);
    await proxy.cut();
    const cutAt = Date.now();
    const lastExpiry = lease.expiresAt.getTime();
    const { reason, at } = await abort;
    expect(reason).toMatchObject({ code: 'LEASE_LOST' });
    expect((reason as TokenpoolError).cause).toMatchObject({ code: 'UNAVAILABLE' });
    // Not before the last expiry the server granted, minus the request's flight; not long after it.
    expect(at).toBeGreaterThan(lastExpiry - 1_000);
    expect(at).toBeLessThan(lastExpiry + 500);
    expect(at - cutAt).toBeGreaterThan(5_000);
    await holder.close(); // the lost lease is not checked in, and close() does not hang on it
    // The server agrees: no heartbeat came, the lease expired (read once its expiry has passed on the server too).
    await new Promise((r) => setTimeout(r, Math.max(0, lastExpiry + 1_000 - Date.now())));
    const [row] = await world.admin.leases({ poolId });
    expect(row).toMatchObject({ id: lease.id, state: 'EXPIRED' });
  });
});
