import type { Lease } from '@tokenpool/client';
import { countingClient, poolWithApp, useSdkWorld } from './fixtures';

const LEASES = 1_000;
const LEASE_SECONDS = 8;
const INTERVAL_MS = (LEASE_SECONDS * 1000) / 4;

/** One client holding 1,000 leases: kept alive by at most 2 `heartbeats` calls per interval; a revocation aborts one signal only. */
describe('SDK heartbeats for 1,000 leases', () => {
  const world = useSdkWorld();

  it('keeps them alive with at most 2 heartbeats calls per interval, and a revocation aborts only its own lease', async () => {
    const { poolId, appKey } = await poolWithApp(world.admin, { cap: LEASES, cost: 1 });
    // A long retry deadline: on a loaded machine close()'s 999 check-ins only take longer.
    const { client, sent } = countingClient({ url: world.api.url, apiKey: world.adminKey, retryDeadlineMs: 120_000 }, 'heartbeats(');
    const leases: Lease[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next++ < LEASES) leases.push(await client.checkout({ poolId, app: appKey, leaseSeconds: LEASE_SECONDS }));
      }),
    );
    expect(leases).toHaveLength(LEASES);

    // One interval for the leases checked out at different moments to fall into one rhythm, then three measured.
    await new Promise((r) => setTimeout(r, INTERVAL_MS + 500));
    const from = sent.length;
    const startedAt = Date.now();
    await new Promise((r) => setTimeout(r, 3 * INTERVAL_MS));
    const measured = sent.slice(from);
    expect(measured.length).toBeGreaterThanOrEqual(4); // they were heartbeated: 2 calls of 500 per round
    expect(measured.length).toBeLessThanOrEqual(2 * 3 + 2);
    for (const at of measured) expect(measured.filter((t) => t >= at && t < at + INTERVAL_MS - 100).length).toBeLessThanOrEqual(2);
    // Each lease's expiry, as the server last answered, moved past the length of a lease since the measure began.
    expect(leases.every((l) => !l.signal.aborted && l.expiresAt.getTime() > startedAt + LEASE_SECONDS * 1000)).toBe(true);
    // The server reads them ACTIVE well past their first expiry.
    expect(await world.admin.leases({ poolId, state: 'ACTIVE', first: 100 })).toHaveLength(100);

    const victim = leases[123];
    const revokedAt = Date.now();
    await world.admin.revokeLease(victim.id);
    await new Promise<void>((resolve) => victim.signal.addEventListener('abort', () => resolve(), { once: true }));
    expect(Date.now() - revokedAt).toBeLessThan((LEASE_SECONDS * 1000) / 2);
    expect(victim.signal.reason).toMatchObject({ code: 'LEASE_NOT_ACTIVE', state: 'REVOKED' });
    await new Promise((r) => setTimeout(r, INTERVAL_MS));
    expect(leases.filter((l) => l.signal.aborted).map((l) => l.id)).toEqual([victim.id]);
    expect(client.leasesHeld).toHaveLength(LEASES - 1);

    await client.close();
    expect(client.leasesHeld).toHaveLength(0);
    // Every other lease checked in (none left to expire), and their credits back at once.
    const inUse = (await world.admin.pools()).find((p) => p.id === poolId)?.inUse;
    const byState: Record<string, number> = {};
    for (let after: string | undefined, page; (page = await world.admin.leases({ poolId, first: 100, after })).length > 0; after = page[page.length - 1].id) {
      for (const lease of page) byState[lease.state] = (byState[lease.state] ?? 0) + 1;
    }
    expect({ inUse, byState }).toEqual({ inUse: 0, byState: { RELEASED: LEASES - 1, REVOKED: 1 } });
  });
});
