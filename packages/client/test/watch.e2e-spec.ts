import { TokenpoolClient, type Pool } from '@tokenpool/client';
import { waitFor } from '../../../test/support/processes';
import { poolWithApp, portOf, startSwitchableProxy, useSdkWorld } from './fixtures';

/** Live pool figures over the poolsChanged subscription, fresh proofs with every heartbeat, work units and outcomes. */
describe('SDK watchPools, refreshProof and the ledger helpers', () => {
  const world = useSdkWorld();

  it('hears every pool of the organization change, until stopped', async () => {
    const a = await poolWithApp(world.admin, { cap: 10, cost: 2 });
    const b = await poolWithApp(world.admin, { cap: 10, cost: 3 });
    const heard: Pool[] = [];
    const stop = world.admin.watchPools((pool) => heard.push(pool));
    // The subscription is live once a change made now is heard.
    await waitFor(
      async () => {
        const probe = await world.admin.checkout({ poolId: a.poolId, app: a.appKey });
        await probe.release();
        return heard.some((p) => p.id === a.poolId);
      },
      'the subscription to deliver',
      10_000,
    );
    const lease = await world.admin.checkout({ poolId: b.poolId, app: b.appKey });
    await waitFor(async () => heard.some((p) => p.id === b.poolId && p.inUse === 3), 'pool b at 3 in use', 30_000);
    const seen = heard.find((p) => p.id === b.poolId && p.inUse === 3)!;
    expect(seen).toMatchObject({ cap: 10, available: 7, activeLeases: 1, queueLength: 0, apps: [{ key: b.appKey, cost: 3 }] });
    stop();
    stop(); // idempotent
    const count = heard.length;
    await lease.release();
    await new Promise((r) => setTimeout(r, 500));
    expect(heard.length).toBe(count);
  });

  it('reconnects after the WebSocket dropped and hears changes again', async () => {
    const { poolId, appKey } = await poolWithApp(world.admin, { cap: 10, cost: 1 });
    const proxy = await startSwitchableProxy(portOf(world.api.url));
    const watcher = new TokenpoolClient({ url: proxy.url, apiKey: world.adminKey });
    const heard: Pool[] = [];
    let connects = 0;
    watcher.watchPools((pool) => heard.push(pool), { onConnected: () => (connects += 1) });
    const changeHeard = async () => {
      const before = heard.length;
      const probe = await world.admin.checkout({ poolId, app: appKey });
      await probe.release();
      return heard.slice(before).some((p) => p.id === poolId);
    };
    await waitFor(changeHeard, 'the first subscription', 30_000);
    expect(proxy.connections()).toBe(1); // the WebSocket: nothing else goes through the proxy
    expect(connects).toBe(1);
    // A second watch on the open socket is told at once that it is live.
    let secondConnects = 0;
    const stopSecond = watcher.watchPools(() => undefined, { onConnected: () => (secondConnects += 1) });
    await waitFor(async () => secondConnects === 1, 'the second watch told the socket is open', 2_000);
    proxy.drop();
    await waitFor(changeHeard, 'the subscription after the drop', 30_000);
    expect(proxy.connections()).toBe(2); // heard over a new socket
    // Both watches were told of the reconnect, so they can read what they missed.
    expect({ connects, secondConnects }).toEqual({ connects: 2, secondConnects: 2 });
    stopSecond();
    await watcher.close();
    await proxy.close();
  });

  it('with refreshProof, every heartbeat brings a fresh proof and calls onHeartbeat after updating the lease', async () => {
    const { poolId, appKey } = await poolWithApp(world.admin, { cap: 10, cost: 1 });
    const lease = await world.admin.checkout({ poolId, app: appKey, leaseSeconds: 6, refreshProof: true });
    const plain = await world.admin.checkout({ poolId, app: appKey, leaseSeconds: 6 });
    const first = lease.proof!;
    const firstExp = (await world.admin.verifyProof(first)).exp;
    const seen: { proof: string | null; expiresAt: number }[] = [];
    const off = lease.onHeartbeat((l) => seen.push({ proof: l.proof, expiresAt: l.expiresAt.getTime() }));
    lease.setIdle(true); // its heartbeats now go as heartbeats(idle: true), still selecting the proof
    await waitFor(async () => seen.length >= 2, 'two heartbeats', 30_000);
    off();
    expect(seen[1].proof).not.toBe(first);
    expect((await world.admin.verifyProof(seen[1].proof!)).exp).toBeGreaterThan(firstExp);
    expect(seen[1].expiresAt).toBeGreaterThan(seen[0].expiresAt);
    // Without refreshProof the lease keeps its first proof.
    expect(plain.proof).toBeTruthy();
    expect((await world.admin.verifyProof(plain.proof!)).exp).toBe(Math.floor(plain.acquiredAt.getTime() / 1000) + 6);
    await Promise.all([lease.release(), plain.release()]);
  });

  it('upserts work units and records outcomes', async () => {
    const ref = `ticket-${Date.now()}`;
    const unit = await world.admin.upsertWorkUnit({ externalRef: ref, process: 'quoting', team: 'sales' });
    expect(unit).toMatchObject({ externalRef: ref, process: 'quoting', team: 'sales', outcome: 'PENDING' });
    expect((await world.admin.upsertWorkUnit({ externalRef: ref, task: 'review' })).id).toBe(unit.id);
    const done = await world.admin.recordOutcome({ workUnitId: unit.id, outcome: 'ACCEPTED' });
    expect(done).toMatchObject({ id: unit.id, outcome: 'ACCEPTED' });
  });
});
