import { startTcpProxy, waitFor } from '../../../test/support/processes';
import { countingClient, poolWithApp, portOf, startSwitchableProxy, useSdkWorld } from './fixtures';

/**
 * Promise 3 through the SDK: a check-out whose connection is dropped while the server works on
 * it is retried with the same idempotency key, and the client ends up holding one lease.
 */
describe('SDK check-out retries', () => {
  // Every check-out waits 1.5 s between its Redis grant and its PostgreSQL record: time to drop its connection.
  const world = useSdkWorld({}, { pauseCheckoutsMs: 1_500 });

  it('holds ONE lease after the connection dropped while the check-out was in flight', async () => {
    const { poolId, appKey } = await poolWithApp(world.admin, { cap: 10, cost: 2 });
    const proxy = await startTcpProxy(Number(new URL(world.api.url).port));
    const { client, sent, failed } = countingClient({ url: `http://127.0.0.1:${proxy.port}`, apiKey: world.adminKey }, 'mutation Checkout');
    const checkout = client.checkout({ poolId, app: appKey, leaseSeconds: 60 });
    await new Promise((r) => setTimeout(r, 500)); // granted in Redis, not yet recorded
    await proxy.cut();
    await proxy.restore();
    const lease = await checkout;
    expect(failed()).toBeGreaterThanOrEqual(1);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    const leases = await world.admin.leases({ poolId });
    expect(leases.map((l) => l.id)).toEqual([lease.id]);
    expect(leases[0]).toMatchObject({ state: 'ACTIVE', credits: 2 });
    expect((await world.admin.pools()).find((p) => p.id === poolId)).toMatchObject({ inUse: 2, activeLeases: 1 });
    await client.close();
    await proxy.cut();
    expect((await world.admin.pools()).find((p) => p.id === poolId)).toMatchObject({ inUse: 0 });
  });

  it('holds ONE lease when several check-outs of one call lose their connection in turn', async () => {
    const { poolId, appKey } = await poolWithApp(world.admin, { cap: 10, cost: 1 });
    const proxy = await startTcpProxy(Number(new URL(world.api.url).port));
    const { client, sent } = countingClient({ url: `http://127.0.0.1:${proxy.port}`, apiKey: world.adminKey }, 'mutation Checkout');
    const checkout = client.checkout({ poolId, app: appKey, leaseSeconds: 60 });
    for (let attempt = 1; attempt <= 2; attempt++) {
      await waitFor(async () => sent.length >= attempt, `check-out attempt ${attempt}`, 30_000);
      await new Promise((r) => setTimeout(r, 300));
      await proxy.cut();
      await proxy.restore();
    }
    const lease = await checkout;
    expect(sent.length).toBeGreaterThanOrEqual(3);
    expect((await world.admin.leases({ poolId })).map((l) => l.id)).toEqual([lease.id]);
    await client.close();
    await proxy.cut();
  });

  it('holds ONE lease when the server granted it and its answer was lost', async () => {
    const { poolId, appKey } = await poolWithApp(world.admin, { cap: 10, cost: 1 });
    const proxy = await startSwitchableProxy(portOf(world.api.url));
    const { client, sent, failed } = countingClient({ url: proxy.url, apiKey: world.adminKey }, 'mutation Checkout');
    proxy.dropNextAnswers(2); // the first two check-outs are recorded, and their answers never arrive
    const lease = await client.checkout({ poolId, app: appKey, leaseSeconds: 60 });
    expect(sent).toHaveLength(3);
    expect(failed()).toBe(2);
    const leases = await world.admin.leases({ poolId });
    expect(leases.map((l) => [l.id, l.state])).toEqual([[lease.id, 'ACTIVE']]);
    await client.close();
    await proxy.close();
  });
});
