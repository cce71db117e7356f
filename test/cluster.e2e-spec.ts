import { Cluster } from 'ioredis';
import { readFileSync } from 'node:fs';
import { createClient, Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { poolKeyBase } from '../src/lease-engine/lease-keys';
import { LeaseStore } from '../src/lease-engine/lease-store';
import { checkHistory } from './support/history-checker';
import { LoadPool, runLoad, setUpLoadPool } from './support/load';
import { ApiProcess, Spawned, startApi, startWorker, startWorld, waitFor, World } from './support/processes';

/**
 * tokenpool on a real Redis Cluster of three primaries (private, on free loopback ports),
 * with two API processes and a worker: leases on pools spread over every primary, pool
 * changes heard across replicas, the fair queue, the sweep's expiry, and one primary killed
 * and restarted empty under load. The second test uses the first one's pools (those of the
 * restarted primary and of the others).
 */

const ENV = { SWEEP_INTERVAL_MS: '500', REBUILD_GRACE_SECONDS: '5' };
const LEASE_FIELDS = 'id state fencingToken expiresAt';
const CHECKOUT = `mutation($input: CheckoutInput!) { checkout(input: $input) { ${LEASE_FIELDS} } }`;
const HEARTBEAT = `mutation($id: ID!) { heartbeat(leaseId: $id) { ${LEASE_FIELDS} } }`;
const CHECKIN = `mutation($id: ID!) { checkin(leaseId: $id) { ${LEASE_FIELDS} } }`;
const LEASE = `query($id: ID!) { lease(id: $id) { ${LEASE_FIELDS} } }`;

interface Lease {
  id: string;
  state: string;
  fencingToken: string;
  expiresAt: string;
}

interface SpreadPool {
  poolId: string;
  appKey: string;
  /** Port of the primary that serves the pool's hash slot. */
  port: number;
}

const prefix = `${process.env.REDIS_PREFIX}:lease`;

describe('Redis Cluster', () => {
  let world: World;
  let apis: ApiProcess[];
  let worker: Spawned;
  let control: Cluster;
  let store: LeaseStore;
  const pools: SpreadPool[] = [];
  const sockets: WsClient[] = [];
  /** api 1's subscription to pools[0], opened by the first test. */
  let heard: { events: { inUse: number }[] } = { events: [] };

  beforeAll(async () => {
    world = await startWorld({ cluster: true });
    const env = { ...ENV, ...world.env };
    apis = await Promise.all([startApi(env), startApi(env)]);
    worker = await startWorker(env);
    control = new Cluster(
      world.cluster!.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      { redisOptions: { maxRetriesPerRequest: 1 } },
    );
    control.on('error', () => undefined);
    store = new LeaseStore(control, prefix);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    control?.disconnect();
    await Promise.all([...(apis ?? []).map((a) => a.stop()), worker?.stop()]);
    await world?.close();
  }, 60_000);

  async function gql<T>(api: ApiProcess, query: string, variables: Record<string, unknown>): Promise<T> {
    const res = await api.gql(world.adminKey, query, variables);
    const data = res.body.data;
    if (!data) throw new Error(`GraphQL failed: ${JSON.stringify(res.body.errors)}`);
    return Object.values(data)[0] as T;
  }

  /** The port of the primary serving the pool's hash slot, from the cluster's own slot map. */
  async function primaryOf(poolId: string): Promise<number> {
    const slot = (await control.cluster('KEYSLOT', poolKeyBase(prefix, poolId))) as number;
    const ranges = await control.cluster('SLOTS');
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`No primary serves slot ${slot}`);
    return range[2][1];
  }

  /** A pool with one app of cost 1, created through api 0. */
  async function createSpreadPool(): Promise<SpreadPool> {
    const { id: poolId } = await gql<{ id: string }>(
      apis[0],
      'mutation($name: String!) { createPool(input: { name: $name, cap: 4, creditHourPrice: 1 }) { id } }',
      {
        name: `spread-${pools.length}`,
      },
    );
    const appKey = `tool-${poolId.slice(0, 8)}`;
    await gql(apis[0], 'mutation($input: CreateAppInput!) { createApp(input: $input) { id } }', { input: { poolId, key: appKey, name: 'tool', cost: 1 } });
    return { poolId, appKey, port: await primaryOf(poolId) };
  }

  function checkout(api: ApiProcess, pool: SpreadPool, leaseSeconds = 30): Promise<Lease> {
    return gql<Lease>(api, CHECKOUT, { input: { poolId: pool.poolId, app: pool.appKey, leaseSeconds } });
  }

  function subscribe(api: ApiProcess, poolId: string): { events: { inUse: number }[]; ready: Promise<void> } {
    const events: { inUse: number }[] = [];
    let connected: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (connected = resolve));
    const client = createClient({
      url: api.url.replace('http', 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${world.adminKey}` },
      on: { connected: () => connected() },
    });
    sockets.push(client);
    client.subscribe<{ poolChanged: { inUse: number } }>(
      { query: 'subscription($p: ID!) { poolChanged(poolId: $p) { inUse } }', variables: { p: poolId } },
      { next: (value) => value.data && events.push(value.data.poolChanged), error: () => undefined, complete: () => undefined },
    );
    return { events, ready };
  }

  it('checks out, heartbeats, checks in, queues and expires leases on pools spread over all three primaries, and tells one replica of a check-out made on the other', async () => {
    const ports = new Set(world.cluster!.nodes.map((n) => n.port));
    // Pool ids are random: create pools until every primary serves at least two.
    for (let i = 0; i < 40 && [...ports].some((port) => pools.filter((p) => p.port === port).length < 2); i++) pools.push(await createSpreadPool());
    expect(new Set(pools.map((p) => p.port))).toEqual(ports);

    const subscription = subscribe(apis[1], pools[0].poolId);
    heard = subscription;
    await subscription.ready;
    // api 1's subscriber hears a check-out made through api 0. Checked out and in again until it
    // does: a fixed pause for the subscription to register was too short on a loaded machine.
    await waitFor(
      async () => {
        const probe = await checkout(apis[0], pools[0]);
        await gql<Lease>(apis[0], CHECKIN, { id: probe.id });
        return heard.events.length > 0;
      },
      'api 1 to hear a check-out made on api 0',
      20_000,
    );
    const heardBefore = heard.events.length;

    for (const [i, pool] of pools.entries()) {
      const [here, there] = i % 2 === 0 ? [apis[0], apis[1]] : [apis[1], apis[0]];
      const first = await checkout(here, pool);
      const second = await checkout(there, pool);
      expect(BigInt(second.fencingToken)).toBeGreaterThan(BigInt(first.fencingToken));
      const beat = await gql<Lease>(there, HEARTBEAT, { id: first.id });
      expect(new Date(beat.expiresAt).getTime()).toBeGreaterThanOrEqual(new Date(first.expiresAt).getTime());
      expect((await gql<Lease>(there, CHECKIN, { id: first.id })).state).toBe('RELEASED');
      expect((await gql<Lease>(here, CHECKIN, { id: second.id })).state).toBe('RELEASED');
      expect(await store.status(pool.poolId)).toMatchObject({ inUse: 0, activeLeases: 0 });
    }
    // The changes of pools[0] in the loop, made through both replicas, reached api 1's subscriber too.
    await waitFor(async () => heard.events.length > heardBefore, 'api 1 to hear the changes of pools[0]', 30_000);

    // The fair queue on each primary: a check-out waiting on api 1 in a full pool is granted
    // when a lease is checked in through api 0.
    const fullPools = [...ports].map((port) => pools.find((p) => p.port === port)!);
    await Promise.all(
      fullPools.map(async (pool) => {
        const held = [];
        for (let i = 0; i < 4; i++) held.push(await checkout(apis[0], pool));
        const waiting = gql<Lease>(apis[1], CHECKOUT, { input: { poolId: pool.poolId, app: pool.appKey, waitSeconds: 30 } });
        await waitFor(async () => (await store.status(pool.poolId)).queued === 1, `a check-out queued in pool ${pool.poolId}`, 30_000);
        await gql<Lease>(apis[0], CHECKIN, { id: held[0].id });
        const granted = await waiting;
        expect(BigInt(granted.fencingToken)).toBeGreaterThan(BigInt(held[3].fencingToken));
        for (const lease of [...held.slice(1), granted]) await gql<Lease>(apis[0], CHECKIN, { id: lease.id });
        expect(await store.status(pool.poolId)).toMatchObject({ inUse: 0, queued: 0 });
      }),
    );

    // A lease left to run out on each primary: the worker's sweep ends it.
    const walkaways = await Promise.all(
      [...ports].map((port) =>
        checkout(
          apis[0],
          pools.find((p) => p.port === port)!,
          5,
        ),
      ),
    );
    const expired = async () => (await Promise.all(walkaways.map((l) => gql<Lease>(apis[1], LEASE, { id: l.id })))).every((l) => l.state === 'EXPIRED');
    await waitFor(expired, 'the sweep to expire a lease on every primary', 30_000);
  }, 90_000);

  it("loses only the pools of a primary restarted empty under load: none over its cap, fencing tokens rising, those pools rebuilt, the others untouched, the worker's schedules back", async () => {
    const apps = [
      { key: 'probe', cost: 1, shareScope: 'NONE' },
      { key: 'mesh', cost: 3, shareScope: 'PRINCIPAL' },
    ];
    const load: LoadPool = await setUpLoadPool(apis[0], world.adminKey, { cap: 10, apps, principals: 6 });
    // The primary to restart also holds BullMQ's keys (one hash tag, one slot), so the worker
    // loses its schedules with it: the load moves to a pool of that primary.
    const bullSlot = (await control.cluster('KEYSLOT', `{${process.env.REDIS_PREFIX}:bull}`)) as number;
    const lostPort = (await control.cluster('SLOTS')).find(([from, to]) => bullSlot >= from && bullSlot <= to)![2][1];
    for (let i = 0; i < 40 && (await primaryOf(load.poolId)) !== lostPort; i++) {
      const { id: poolId } = await gql<{ id: string }>(
        apis[0],
        'mutation($name: String!) { createPool(input: { name: $name, cap: 10, creditHourPrice: 1 }) { id } }',
        {
          name: `load-${i}`,
        },
      );
      load.appKeys = [];
      for (const app of apps) {
        const key = `${app.key}-${poolId.slice(0, 8)}`;
        await gql(apis[0], 'mutation($input: CreateAppInput!) { createApp(input: $input) { id } }', {
          input: { poolId, key, name: app.key, cost: app.cost, shareScope: app.shareScope },
        });
        load.appKeys.push(key);
      }
      load.poolId = poolId;
    }
    expect(await primaryOf(load.poolId)).toBe(lostPort);
    const lostIndex = world.cluster!.nodes.findIndex((n) => n.port === lostPort);
    const kept = pools.filter((p) => p.port !== lostPort);
    const lost = pools.filter((p) => p.port === lostPort);
    const epochs = async (of: SpreadPool[]) => Promise.all(of.map(async (p) => (await store.status(p.poolId)).epoch));
    const keptBefore = await epochs(kept);
    const lostBefore = await epochs(lost);
    const loadEpochBefore = (await store.status(load.poolId)).epoch;

    let restartedAt = 0;
    const chaos = (async () => {
      await new Promise((r) => setTimeout(r, 3000));
      await world.cluster!.restartEmpty(lostIndex);
      restartedAt = Date.now();
    })();
    const [{ history, stats }] = await Promise.all([
      runLoad(
        { apis: () => apis, keys: load.keys, poolId: load.poolId, apps: load.appKeys, leaseSeconds: 5, waitingShare: 0.2 },
        { clients: 16, durationMs: 12_000 },
      ),
      chaos,
    ]);
    console.log(`cluster, a primary restarted empty: ${JSON.stringify(stats)}`);

    expect(checkHistory(history, { poolId: load.poolId, cap: 10 })).toEqual([]);
    expect(history.grants.filter((g) => g.requestedAt > restartedAt).length).toBeGreaterThan(0);
    expect((await store.status(load.poolId)).epoch).not.toEqual(loadEpochBefore);
    // The restarted primary's other pools are rebuilt (at their next use or sweep); the others keep their epochs.
    for (const pool of lost) {
      await waitFor(async () => Boolean(await checkout(apis[0], pool)), `a check-out on rebuilt pool ${pool.poolId}`, 30_000);
    }
    const lostAfter = await epochs(lost);
    lostAfter.forEach((epoch, i) => expect(epoch).not.toEqual(lostBefore[i]));
    expect(await epochs(kept)).toEqual(keptBefore);
    // api 1 still hears pool changes made on api 0, whichever node its subscriber was on.
    const seen = heard.events.length;
    await checkout(apis[0], pools[0]);
    await waitFor(async () => heard.events.length > seen, 'api 1 to hear a check-out made on api 0 after the restart', 30_000);
    // The worker re-created its schedules on the restarted primary: its sweep expires a lease again.
    const walkaway = await checkout(apis[1], kept[0], 5);
    await waitFor(async () => (await gql<Lease>(apis[0], LEASE, { id: walkaway.id })).state === 'EXPIRED', "the worker's sweep after the restart", 60_000);
  }, 150_000);
});

describe('Redis Cluster over TLS', () => {
  let world: World;
  let api: ApiProcess;
  let control: Cluster;

  beforeAll(async () => {
    world = await startWorld({ cluster: true, tls: true });
    api = await startApi({ ...ENV, ...world.env });
    // As the service connects: node names kept as announced (no DNS lookup), the run's CA trusted.
    control = new Cluster(
      world.cluster!.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
      {
        dnsLookup: (address, done) => done(null, address),
        redisOptions: { maxRetriesPerRequest: 1, tls: { ca: readFileSync(world.env.NODE_EXTRA_CA_CERTS) } },
      },
    );
    control.on('error', () => undefined);
  }, 90_000);

  afterAll(async () => {
    control?.disconnect();
    await api?.stop();
    await world?.close();
  }, 60_000);

  it('serves check-outs and check-ins on every primary of a cluster that speaks only TLS (rediss:// in REDIS_URL)', async () => {
    expect(world.env.REDIS_URL).toMatch(/^rediss:\/\//);
    const gql = async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
      const res = await api.gql(world.adminKey, query, variables);
      if (!res.body.data) throw new Error(`GraphQL failed: ${JSON.stringify(res.body.errors)}`);
      return Object.values(res.body.data)[0] as T;
    };
    const ranges = await control.cluster('SLOTS');
    const served = new Set<number>();
    for (let i = 0; i < 40 && served.size < 3; i++) {
      const { id: poolId } = await gql<{ id: string }>('mutation($name: String!) { createPool(input: { name: $name, cap: 4, creditHourPrice: 1 }) { id } }', {
        name: `tls-${i}`,
      });
      const appKey = `tool-${poolId.slice(0, 8)}`;
      await gql('mutation($input: CreateAppInput!) { createApp(input: $input) { id } }', { input: { poolId, key: appKey, name: 'tool', cost: 1 } });
      const lease = await gql<Lease>(CHECKOUT, { input: { poolId, app: appKey } });
      expect((await gql<Lease>(CHECKIN, { id: lease.id })).state).toBe('RELEASED');
      const slot = (await control.cluster('KEYSLOT', poolKeyBase(prefix, poolId))) as number;
      served.add(ranges.find(([from, to]) => slot >= from && slot <= to)![2][1]);
    }
    expect(served).toEqual(new Set(world.cluster!.nodes.map((n) => n.port)));
  }, 90_000);
});
