import type { TestApp } from './app';
import { GrantRecord, History, LeaseEndRecord } from './history-checker';
import { ApiProcess } from './processes';

export interface LoadTarget {
  /** The API processes to spread requests over; the test may swap them while the load runs. */
  apis: () => ApiProcess[];
  keys: { key: string; team: string | null }[];
  poolId: string;
  apps: string[];
  leaseSeconds: number;
  /** Share of check-outs that wait in the fair queue (for 1 s) instead of being refused at once. */
  waitingShare?: number;
}

export interface LoadStats {
  checkouts: number;
  granted: number;
  denied: number;
  unavailable: number;
  failed: number;
  checkins: number;
  heartbeats: number;
}

const CHECKOUT = 'mutation($input: CheckoutInput!) { checkout(input: $input) { id credits fencingToken expiresAt } }';
const HEARTBEAT = 'mutation($id: ID!) { heartbeat(leaseId: $id) { expiresAt } }';
const CHECKIN = 'mutation($id: ID!) { checkin(leaseId: $id) { state } }';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)];

/** One request to a random live API process; network failures (a killed process) come back as null. */
async function call(target: LoadTarget, key: string, query: string, variables: Record<string, unknown>) {
  const apis = target.apis();
  try {
    return await pick(apis).gql(key, query, variables);
  } catch {
    return null;
  }
}

/**
 * Runs `clients` concurrent clients until `durationMs` has passed (and, with `until`, until
 * the time it resolves to: a load that must go on for a while after a fault however late the
 * fault came on a loaded machine): each checks out a random
 * app (from one of two hosts, sometimes waiting in the queue; clients that share a key share
 * the draws of sharing apps), holds it a little (heartbeating now and then), and checks it in, or sometimes walks
 * away and lets it expire. Every answer is recorded for the history checker.
 */
export async function runLoad(
  target: LoadTarget,
  options: { clients: number; durationMs: number; until?: Promise<number> },
): Promise<{ history: History; stats: LoadStats; acknowledged: string[] }> {
  const history: History = { grants: [], ends: [] };
  const stats: LoadStats = { checkouts: 0, granted: 0, denied: 0, unavailable: 0, failed: 0, checkins: 0, heartbeats: 0 };
  let stopAt = Date.now() + options.durationMs;
  let awaitingUntil = options.until !== undefined;
  options.until?.then(
    (at) => {
      stopAt = Math.max(stopAt, at);
      awaitingUntil = false;
    },
    () => (awaitingUntil = false),
  );

  async function client(index: number): Promise<void> {
    const me = target.keys[index % target.keys.length];
    while (awaitingUntil || Date.now() < stopAt) {
      const requestedAt = Date.now();
      stats.checkouts += 1;
      const waitSeconds = Math.random() < (target.waitingShare ?? 0) ? 1 : undefined;
      const input = { poolId: target.poolId, app: pick(target.apps), leaseSeconds: target.leaseSeconds, host: `ws-${index % 2}`, waitSeconds };
      const res = await call(target, me.key, CHECKOUT, { input });
      const acknowledgedAt = Date.now();
      const lease = res?.body.data?.checkout as { id: string; credits: number; fencingToken: string; expiresAt: string } | undefined;
      if (!lease) {
        const code = res?.body.errors?.[0]?.extensions.code;
        if (code === 'POOL_EXHAUSTED' || code === 'GROUP_LIMIT_REACHED' || code === 'QUEUE_TIMEOUT') stats.denied += 1;
        else if (code === 'UNAVAILABLE') stats.unavailable += 1;
        else stats.failed += 1;
        await sleep(5 + Math.random() * 30);
        continue;
      }
      stats.granted += 1;
      const grant: GrantRecord = {
        leaseId: lease.id,
        poolId: target.poolId,
        team: me.team,
        credits: lease.credits,
        fencingToken: lease.fencingToken,
        requestedAt,
        acknowledgedAt,
      };
      history.grants.push(grant);
      const end: LeaseEndRecord = { leaseId: lease.id, releaseStartedAt: null, lastKnownExpiresAt: new Date(lease.expiresAt).getTime() };
      history.ends.push(end);
      await sleep(10 + Math.random() * 150);
      if (Math.random() < 0.3) {
        const beat = await call(target, me.key, HEARTBEAT, { id: lease.id });
        const expiresAt = (beat?.body.data?.heartbeat as { expiresAt: string } | undefined)?.expiresAt;
        if (expiresAt) {
          stats.heartbeats += 1;
          end.lastKnownExpiresAt = Math.max(end.lastKnownExpiresAt, new Date(expiresAt).getTime());
        }
        await sleep(Math.random() * 100);
      }
      if (Math.random() < 0.03) continue; // walk away: the lease must expire by itself
      end.releaseStartedAt = Date.now();
      if (await call(target, me.key, CHECKIN, { id: lease.id })) stats.checkins += 1;
    }
  }

  await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  return { history, stats, acknowledged: history.grants.map((g) => g.leaseId) };
}

/** The apps of the load tests' pool of 20 credits: 1 to 8 credits, two of them sharing (per principal, per principal and host). */
export const LOAD_APPS = [
  { key: 'probe', cost: 1, shareScope: 'NONE' },
  { key: 'mesh', cost: 3, shareScope: 'PRINCIPAL' },
  { key: 'cad', cost: 5, shareScope: 'PRINCIPAL_HOST' },
  { key: 'solver', cost: 8, shareScope: 'NONE' },
];

export interface LoadPoolSpec {
  cap: number;
  apps: { key: string; cost: number; shareScope: string }[];
  teams?: { team: string; reserved: number; max: number }[];
  principals: number;
  /** The team of the i-th principal; none when absent. */
  teamOf?: (index: number) => string | null;
}

export interface LoadPool {
  adminKey: string;
  poolId: string;
  appKeys: string[];
  keys: { key: string; team: string | null }[];
}

/** A CLIENT principal of the admin's organization with a key of its own, created through `api`. */
async function clientKey(api: ApiProcess, adminKey: string, input: { name: string; team: string | null }): Promise<string> {
  const principal = await api.gql(adminKey, 'mutation($input: CreatePrincipalInput!) { createPrincipal(input: $input) { id } }', {
    input: { name: input.name, kind: 'AGENT', team: input.team ?? undefined, orgUnitKind: 'GOING_CONCERN' },
  });
  const principalId = (principal.body.data?.createPrincipal as { id: string }).id;
  const key = await api.gql(adminKey, 'mutation($p: ID!) { createApiKey(principalId: $p, role: CLIENT) { secret } }', { p: principalId });
  return (key.body.data?.createApiKey as { secret: string }).secret;
}

/**
 * A new organization (made by `t`, in the run's database) with one pool, its apps and team
 * limits, and `principals` CLIENT agents with a key each (see setUpLoadPool).
 */
export async function createLoadPool(t: TestApp, api: ApiProcess, spec: LoadPoolSpec): Promise<LoadPool> {
  const { adminKey } = await t.organization('load');
  return setUpLoadPool(api, adminKey, spec);
}

/**
 * One pool of the admin's organization, its apps and team limits, and `principals` CLIENT
 * agents with a key each, all created through `api` (so the pool is set up in that
 * process's Redis and database).
 */
export async function setUpLoadPool(api: ApiProcess, adminKey: string, spec: LoadPoolSpec): Promise<LoadPool> {
  const pool = await api.gql(adminKey, 'mutation($cap: Int!) { createPool(input: { name: "load", cap: $cap, creditHourPrice: 1.5 }) { id } }', {
    cap: spec.cap,
  });
  const poolId = (pool.body.data?.createPool as { id: string }).id;
  const appKeys: string[] = [];
  for (const app of spec.apps) {
    const key = `${app.key}-${poolId.slice(0, 8)}`;
    await api.gql(adminKey, 'mutation($input: CreateAppInput!) { createApp(input: $input) { id } }', {
      input: { poolId, key, name: app.key, cost: app.cost, shareScope: app.shareScope },
    });
    appKeys.push(key);
  }
  for (const limit of spec.teams ?? [])
    await api.gql(adminKey, 'mutation($input: GroupLimitInput!) { setGroupLimit(input: $input) { team } }', { input: { poolId, ...limit } });
  const keys = [];
  for (let i = 0; i < spec.principals; i++) {
    const team = spec.teamOf?.(i) ?? null;
    keys.push({ key: await clientKey(api, adminKey, { name: `agent-${i}`, team }), team });
  }
  return { adminKey, poolId, appKeys, keys };
}
