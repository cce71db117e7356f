import Redis from 'ioredis';
import { codeOf, TestApp } from './support/app';
import { CHECKIN, CHECKOUT, createPool, LeaseShape } from './support/catalog';
import { waitFor } from './support/processes';

const HEARTBEATS = `mutation($ids: [ID!]!, $idle: Boolean) {
  heartbeats(leaseIds: $ids, idle: $idle) { leaseId code state message retryAfterSeconds lease { id state expiresAt leaseSeconds } }
}`;

interface Answer {
  leaseId: string;
  code: string | null;
  state: string | null;
  message: string | null;
  retryAfterSeconds: number | null;
  lease: { id: string; state: string; expiresAt: string; leaseSeconds: number } | null;
}

describe('heartbeats: many leases in one call, each answered on its own', () => {
  let t: TestApp;
  let adminKey: string;
  let client: { key: string; principalId: string };
  let other: { key: string; principalId: string };

  beforeAll(async () => {
    t = await TestApp.start();
    ({ adminKey } = await t.organization('heartbeats'));
    client = await t.principalWithKey(adminKey, 'CLIENT', { name: 'solver-farm', kind: 'SERVICE' });
    other = await t.principalWithKey(adminKey, 'CLIENT', { name: 'someone-else' });
  });

  afterAll(async () => {
    await t.close();
  });

  async function checkout(key: string, poolId: string, app: string, leaseSeconds = 60): Promise<LeaseShape> {
    const res = await t.gql<{ checkout: LeaseShape }>(key, CHECKOUT, { input: { poolId, app, leaseSeconds } });
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    return res.data.checkout;
  }

  async function heartbeats(key: string, ids: string[], idle?: boolean) {
    return t.gql<{ heartbeats: Answer[] }>(key, HEARTBEATS, { ids, idle });
  }

  it('extends live leases of several pools and answers ended, foreign and unknown ones in their own slots, in the order asked', async () => {
    const a = await createPool(t, adminKey, { cap: 50, apps: [{ key: 'cad', cost: 5 }] });
    const b = await createPool(t, adminKey, { cap: 50, apps: [{ key: 'cfd', cost: 7 }] });
    const liveA = await checkout(client.key, a.poolId, a.keyOf('cad'));
    const liveB = await checkout(client.key, b.poolId, b.keyOf('cfd'), 90);
    const released = await checkout(client.key, a.poolId, a.keyOf('cad'));
    await t.gql(client.key, CHECKIN, { id: released.id });
    const notMine = await checkout(other.key, a.poolId, a.keyOf('cad'));
    const stranger = await t.organization('heartbeats-stranger');
    const foreignPool = await createPool(t, stranger.adminKey, { cap: 10, apps: [{ key: 'cad', cost: 1 }] });
    const foreign = await checkout(stranger.adminKey, foreignPool.poolId, foreignPool.keyOf('cad'));
    const unknown = '00000000-0000-4000-8000-000000000000';
    await new Promise((r) => setTimeout(r, 20));

    const asked = [liveB.id, released.id, notMine.id, liveA.id, foreign.id, 'not-a-uuid', unknown, liveA.id];
    const res = await heartbeats(client.key, asked);
    expect(res.errors).toBeUndefined();
    const answers = res.data!.heartbeats;
    expect(answers.map((x) => x.leaseId)).toEqual(asked);
    const [b1, rel, mine, a1, frn, bad, unk, a2] = answers;
    expect(b1).toMatchObject({ code: null, state: null, message: null, lease: { id: liveB.id, state: 'ACTIVE', leaseSeconds: 90 } });
    expect(new Date(b1.lease!.expiresAt).getTime()).toBeGreaterThan(new Date(liveB.expiresAt).getTime());
    expect(a1).toMatchObject({ code: null, lease: { id: liveA.id, state: 'ACTIVE' } });
    expect(new Date(a1.lease!.expiresAt).getTime()).toBeGreaterThan(new Date(liveA.expiresAt).getTime());
    expect(a2).toEqual(a1);
    expect(rel).toMatchObject({ code: 'LEASE_NOT_ACTIVE', state: 'RELEASED', lease: null });
    expect(rel.message).toMatch(/released; check out again/);
    for (const refused of [mine, frn, bad, unk]) expect(refused).toMatchObject({ code: 'NOT_FOUND', state: null, lease: null });

    // The extension is real: the lease reads the new expiry, and the other holder's lease was not touched.
    const read = await t.gql<{ lease: { expiresAt: string } }>(adminKey, 'query($id: ID!) { lease(id: $id) { expiresAt } }', { id: notMine.id });
    expect(read.data!.lease.expiresAt).toBe(notMine.expiresAt);
    // An ADMIN key may heartbeat any lease of its organization.
    const byAdmin = await heartbeats(adminKey, [notMine.id]);
    expect(byAdmin.data!.heartbeats[0]).toMatchObject({ code: null, lease: { id: notMine.id, state: 'ACTIVE' } });
  });

  it('answers a lease that ran out as EXPIRED and keeps the others alive', async () => {
    const pool = await createPool(t, adminKey, { cap: 20, apps: [{ key: 'viewer', cost: 2 }] });
    const short = await checkout(client.key, pool.poolId, pool.keyOf('viewer'), 5);
    const long = await checkout(client.key, pool.poolId, pool.keyOf('viewer'), 60);
    await new Promise((r) => setTimeout(r, 5_300));
    const res = await heartbeats(client.key, [short.id, long.id], true);
    expect(res.data!.heartbeats).toEqual([
      expect.objectContaining({ leaseId: short.id, code: 'LEASE_NOT_ACTIVE', state: 'EXPIRED', lease: null }),
      expect.objectContaining({ leaseId: long.id, code: null, lease: expect.objectContaining({ state: 'ACTIVE' }) }),
    ]);
    const live = await t.gql<{ pool: { inUse: number; activeLeases: number } }>(adminKey, 'query($id: ID!) { pool(id: $id) { inUse activeLeases } }', {
      id: pool.poolId,
    });
    expect(live.data!.pool).toEqual({ inUse: 2, activeLeases: 1 });
  });

  it('refuses an empty list and more than 500 leases with BAD_USER_INPUT on leaseIds, and a VIEWER with FORBIDDEN', async () => {
    const empty = await heartbeats(client.key, []);
    expect(codeOf(empty)).toBe('BAD_USER_INPUT');
    expect(empty.errors![0].extensions.field).toBe('leaseIds');
    const tooMany = await heartbeats(
      client.key,
      Array.from({ length: 501 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`),
    );
    expect(codeOf(tooMany)).toBe('BAD_USER_INPUT');
    expect(tooMany.errors![0].message).toMatch(/At most 500 leases/);
    const viewer = await t.principalWithKey(adminKey, 'VIEWER', { name: 'dashboard' });
    expect(codeOf(await heartbeats(viewer.key, ['00000000-0000-4000-8000-000000000001']))).toBe('FORBIDDEN');
  });

  it('extends 500 leases of two pools with one Redis call per pool, and no per-lease Redis call', async () => {
    const pools = [
      await createPool(t, adminKey, { cap: 1000, apps: [{ key: 'tool', cost: 1 }] }),
      await createPool(t, adminKey, { cap: 1000, apps: [{ key: 'tool', cost: 1 }] }),
    ];
    const leases: LeaseShape[] = [];
    for (let i = 0; i < 500; i += 50) {
      const pool = pools[(i / 50) % 2];
      leases.push(...(await Promise.all(Array.from({ length: 50 }, () => checkout(client.key, pool.poolId, pool.keyOf('tool'))))));
    }
    const monitor = await new Redis(process.env.REDIS_URL!).monitor();
    const commands: string[][] = [];
    // Commands a script runs show too, with source "lua": only the calls the API made count.
    monitor.on('monitor', (_time: string, args: string[], source: string) => source !== 'lua' && commands.push(args));
    // A monitoring connection torn down while the server still streams to it may report an error: not the test's concern.
    monitor.on('error', () => undefined);
    const ids = new Set(leases.map((l) => l.id));
    const calls = () =>
      commands
        .filter((args) => args.some((arg) => pools.some((p) => arg.includes(p.poolId)) || [...ids].some((id) => arg.endsWith(id))))
        .map((args) => args[0].toLowerCase() + (args[0].toLowerCase() === 'fcall' ? ` ${args[1].replace(/_[0-9a-f]{12}$/, '')}` : ''));
    try {
      const res = await heartbeats(
        client.key,
        leases.map((l) => l.id),
      );
      expect(res.data!.heartbeats.filter((x) => x.code === null)).toHaveLength(500);
      // MONITOR shows a command a moment after it ran (longer on a loaded machine); then a
      // little more time for any further call the API might have made to show too.
      await waitFor(async () => calls().length >= 2, 'MONITOR to show the heartbeats calls', 30_000);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      monitor.disconnect();
    }
    expect(calls().sort()).toEqual(['fcall tokenpool_lease_heartbeats', 'fcall tokenpool_lease_heartbeats']);
  });
});
