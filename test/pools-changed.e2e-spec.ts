import { createClient, Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { codeOf, TestApp } from './support/app';
import { CHECKOUT, createPool } from './support/catalog';
import { ApiProcess, startApi, waitFor } from './support/processes';

interface PoolEvent {
  id: string;
  name: string;
  inUse: number;
  available: number;
  activeLeases: number;
  queueLength: number;
}

describe('poolsChanged and currentKey: what the command line and the dashboard read', () => {
  let t: TestApp;
  let api: ApiProcess;
  const sockets: WsClient[] = [];

  beforeAll(async () => {
    t = await TestApp.start();
    api = await startApi();
  });

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    await api.stop();
    await t.close();
  });

  function watchPools(key: string): { events: PoolEvent[]; ready: Promise<void> } {
    const events: PoolEvent[] = [];
    let connected: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (connected = resolve));
    const socket = createClient({
      url: `${api.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${key}` },
      on: { connected: () => connected() },
    });
    sockets.push(socket);
    socket.subscribe<{ poolsChanged: PoolEvent }>(
      { query: 'subscription { poolsChanged { id name inUse available activeLeases queueLength } }' },
      { next: (value) => value.data && events.push(value.data.poolsChanged), error: () => undefined, complete: () => undefined },
    );
    return { events, ready };
  }

  it("delivers every pool of the caller's organization on one subscription, and nothing of another organization", async () => {
    const mine = await t.organization('pools-changed');
    const theirs = await t.organization('pools-changed-other');
    const viewer = await t.principalWithKey(mine.adminKey, 'VIEWER', { name: 'wallboard' });
    const first = await createPool(t, mine.adminKey, { cap: 30, apps: [{ key: 'cad', cost: 10 }] });
    const second = await createPool(t, mine.adminKey, { cap: 40, apps: [{ key: 'cfd', cost: 15 }] });
    const foreign = await createPool(t, theirs.adminKey, { cap: 40, apps: [{ key: 'cfd', cost: 15 }] });
    const watch = watchPools(viewer.key);
    await watch.ready;
    // The subscription is registered once a change is heard: check out and in until it is.
    await waitFor(
      async () => {
        const probe = await api.gql(mine.adminKey, CHECKOUT, { input: { poolId: second.poolId, app: second.keyOf('cfd') } });
        const id = (probe.body.data?.checkout as { id: string }).id;
        await api.gql(mine.adminKey, 'mutation($id: ID!) { checkin(leaseId: $id) { state } }', { id });
        return watch.events.some((e) => e.id === second.poolId);
      },
      'the subscription to hear a change',
      20_000,
    );

    await api.gql(theirs.adminKey, CHECKOUT, { input: { poolId: foreign.poolId, app: foreign.keyOf('cfd') } });
    const a = await api.gql(mine.adminKey, CHECKOUT, { input: { poolId: first.poolId, app: first.keyOf('cad') } });
    expect(a.body.errors).toBeUndefined();
    await waitFor(async () => watch.events.some((e) => e.id === first.poolId), 'the first pool on poolsChanged', 30_000);
    await api.gql(mine.adminKey, 'mutation($id: ID!) { updatePool(id: $id, input: { cap: 45 }) { cap } }', { id: second.poolId });
    await waitFor(async () => watch.events.some((e) => e.id === second.poolId && e.available === 45), 'the second pool on poolsChanged', 30_000);

    expect(watch.events.find((e) => e.id === first.poolId)).toMatchObject({ inUse: 10, available: 20, activeLeases: 1, queueLength: 0 });
    expect(watch.events.find((e) => e.id === second.poolId && e.available === 45)).toMatchObject({ inUse: 0, activeLeases: 0 });
    // The foreign change happened first; mine came after, so it had its chance to arrive.
    expect(watch.events.map((e) => e.id)).not.toContain(foreign.poolId);
  });

  it('tells every role which key it is using, and never the secret', async () => {
    const org = await t.organization('current-key');
    for (const role of ['ADMIN', 'CLIENT', 'VIEWER'] as const) {
      const made = await t.principalWithKey(org.adminKey, role, { name: `who-${role.toLowerCase()}`, team: 'cae' });
      const res = await t.gql<{ currentKey: { id: string; role: string; revokedAt: string | null; principal: { id: string; name: string; team: string } } }>(
        made.key,
        '{ currentKey { id role revokedAt principal { id name team } } }',
        {},
      );
      expect(res.data!.currentKey).toEqual({
        id: made.keyId,
        role,
        revokedAt: null,
        principal: { id: made.principalId, name: `who-${role.toLowerCase()}`, team: 'cae' },
      });
      expect(JSON.stringify(res)).not.toContain(made.key);
    }
    expect(codeOf(await t.gql(null, '{ currentKey { id } }'))).toBe('UNAUTHENTICATED');
    expect(codeOf(await t.gql('tp_not_a_real_key', '{ currentKey { id } }'))).toBe('UNAUTHENTICATED');
  });
});
