import Redis from 'ioredis';
import { Client } from 'pg';
import { BudgetStore } from '../../src/lease-engine/budget-store';
import { peakHeld } from '../support/history-checker';
import { ApiProcess, Spawned, startApi, startPrivateRedis, startWorker, startWorld, World } from '../support/processes';

/**
 * Compute budgets under load: reservations from 3 API processes against small budgets, with
 * settles, cancels and expiries, and a Redis that loses everything. The history records, per
 * reservation, what the client could know: its hold counts from the moment the grant was
 * acknowledged until its holder started to settle or cancel it (or its expiry), and a settled
 * cost counts from the moment the settlement was acknowledged, for ever (TOTAL budgets). At no
 * instant may those sub-intervals of what the budget really counted add up above the limit.
 */

const RESERVE = 'mutation($input: ReserveComputeInput!) { reserveCompute(input: $input) { id state amount expiresAt } }';
const SETTLE = 'mutation($id: ID!, $usage: ComputeUsageInput!) { settleCompute(reservationId: $id, usage: $usage) { id state settledCost } }';
const CANCEL = 'mutation($id: ID!) { cancelReservation(reservationId: $id) { id state } }';
const CREATE = 'mutation($input: CreateComputeBudgetInput!) { createComputeBudget(input: $input) { id } }';
const BUDGETS = '{ computeBudgets { id limit spent reserved remaining } }';
const SWEEP_MS = 500;

interface Interval {
  from: number;
  to: number;
  credits: number;
  team: string | null;
}

interface LoadResult {
  intervals: Interval[];
  granted: number;
  /** Ids of the reservations whose grant was acknowledged. */
  acknowledged: string[];
  refused: number;
  unavailable: number;
  failed: string[];
  /** Settlements acknowledged, with their cost. */
  settled: Map<string, number>;
}

function code(body: { errors?: { extensions: Record<string, unknown> }[] }): string | undefined {
  return body.errors?.[0]?.extensions.code as string | undefined;
}

async function clientKeys(api: ApiProcess, adminKey: string, n: number): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = await api.gql(adminKey, 'mutation($input: CreatePrincipalInput!) { createPrincipal(input: $input) { id } }', {
      input: { name: `agent-${i}`, kind: 'AGENT', team: 'ml', orgUnitKind: 'CHANGE' },
    });
    const principalId = (p.body.data!.createPrincipal as { id: string }).id;
    const k = await api.gql(adminKey, 'mutation($p: ID!) { createApiKey(principalId: $p, role: CLIENT) { secret } }', { p: principalId });
    keys.push((k.body.data!.createApiKey as { secret: string }).secret);
  }
  return keys;
}

async function createBudget(api: ApiProcess, adminKey: string, input: Record<string, unknown>): Promise<string> {
  const res = await api.gql(adminKey, CREATE, { input: { period: 'TOTAL', ...input } });
  if (!res.body.data) throw new Error(JSON.stringify(res.body.errors));
  return (res.body.data.createComputeBudget as { id: string }).id;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The budgets' figures; a read the API refuses while it is still restoring them (UNAVAILABLE) is tried again. */
async function figuresOf(api: ApiProcess, adminKey: string): Promise<{ limit: number; spent: number; reserved: number }[]> {
  let last: unknown;
  for (let attempt = 0; attempt < 50; attempt++) {
    const res = await api.gql(adminKey, BUDGETS);
    if (res.body.data) return res.body.data.computeBudgets as { limit: number; spent: number; reserved: number }[];
    last = res.body.errors;
    if (code(res.body) !== 'UNAVAILABLE') break;
    await pause(200);
  }
  throw new Error(`computeBudgets failed: ${JSON.stringify(last)}`);
}

/**
 * `clients` loops for `durationMs`: reserve 1 to 5 units; then settle at or below the hold
 * (60 %), cancel (25 %) or leave it to expire (15 %, 5-second reservations). A request that
 * fails (a process or Redis going away) is retried later as a new one.
 */
async function runBudgetLoad(apis: () => ApiProcess[], keys: string[], options: { clients: number; durationMs: number }): Promise<LoadResult> {
  const result: LoadResult = { intervals: [], granted: 0, acknowledged: [], refused: 0, unavailable: 0, failed: [], settled: new Map() };
  const end = Date.now() + options.durationMs;
  const call = async (key: string, query: string, variables: Record<string, unknown>) => {
    const list = apis();
    const api = list[Math.floor(Math.random() * list.length)];
    try {
      return (await api.gql(key, query, variables)).body;
    } catch {
      return { errors: [{ extensions: { code: 'UNAVAILABLE' } }] };
    }
  };
  const client = async (n: number) => {
    const key = keys[n % keys.length];
    while (Date.now() < end) {
      const amount = 1 + Math.floor(Math.random() * 5);
      const expiring = Math.random() < 0.15;
      const reserved = await call(key, RESERVE, {
        input: { provider: 'x', model: 'y', maxInputTokens: 0, maxOutputTokens: 0, amount, reservationSeconds: expiring ? 5 : 60 },
      });
      const acknowledgedAt = Date.now();
      const c = code(reserved);
      if (c === 'BUDGET_EXHAUSTED') {
        result.refused += 1;
        await pause(20);
        continue;
      }
      if (c === 'UNAVAILABLE') {
        result.unavailable += 1;
        await pause(100);
        continue;
      }
      if (c || !reserved.data) {
        result.failed.push(JSON.stringify(reserved.errors ?? reserved));
        continue;
      }
      result.granted += 1;
      const r = reserved.data.reserveCompute as { id: string; amount: number; expiresAt: string };
      result.acknowledged.push(r.id);
      const expiresAt = Date.parse(r.expiresAt);
      await pause(Math.random() * 150);
      if (expiring) {
        result.intervals.push({ from: acknowledgedAt, to: expiresAt, credits: amount, team: null });
        continue;
      }
      const releaseStartedAt = Date.now();
      result.intervals.push({ from: acknowledgedAt, to: Math.min(releaseStartedAt, expiresAt), credits: amount, team: null });
      if (Math.random() < 0.7) {
        const cost = Math.floor(Math.random() * (amount + 1));
        const usage = { eventId: `e-${r.id}`, provider: 'x', model: 'y', inputTokens: 1, outputTokens: 1, cost, occurredAt: new Date().toISOString() };
        // A settlement is retried with its eventId until it is acknowledged: the call was made.
        for (let attempt = 0; attempt < 50; attempt++) {
          const settled = await call(key, SETTLE, { id: r.id, usage });
          if (settled.data) {
            result.settled.set(r.id, cost);
            if (cost > 0) result.intervals.push({ from: Date.now(), to: Infinity, credits: cost, team: null });
            break;
          }
          await pause(100);
        }
      } else {
        await call(key, CANCEL, { id: r.id });
      }
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  return result;
}

describe('compute budgets under load', () => {
  let world: World;

  beforeEach(async () => {
    world = await startWorld();
  });

  afterEach(async () => {
    await world.close();
  });

  async function pgQuery<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const pg = new Client({ connectionString: world.databaseUrl });
    await pg.connect();
    try {
      return (await pg.query(sql, params)).rows as T[];
    } finally {
      await pg.end();
    }
  }

  it('grants exactly 50 of 200 concurrent reservations from 3 API processes against a budget with room for 50', async () => {
    const apis = await Promise.all([startApi(world.env), startApi(world.env), startApi(world.env)]);
    try {
      const keys = await clientKeys(apis[0], world.adminKey, 10);
      const budgetId = await createBudget(apis[0], world.adminKey, { name: 'room-for-50', scope: 'ORGANIZATION', limit: 50 });
      const answers = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const res = await apis[i % 3].gql(keys[i % keys.length], RESERVE, {
            input: { provider: 'x', model: 'y', maxInputTokens: 0, maxOutputTokens: 0, amount: 1 },
          });
          return { acknowledgedAt: Date.now(), body: res.body };
        }),
      );
      const granted = answers.filter((a) => a.body.data?.reserveCompute);
      const refused = answers.filter((a) => code(a.body) === 'BUDGET_EXHAUSTED');
      expect({ granted: granted.length, refused: refused.length }).toEqual({ granted: 50, refused: 150 });
      expect(refused[0].body.errors![0].extensions).toMatchObject({ budgetId, requested: 1, remaining: 0 });
      const [{ open }] = await pgQuery<{ open: number }>(`SELECT count(*)::int AS open FROM compute_reservations WHERE state = 'OPEN'`);
      expect(open).toBe(50);
      const figures = await figuresOf(apis[1], world.adminKey);
      expect(figures[0]).toMatchObject({ reserved: 50, limit: 50 });
      expect(peakHeld(granted.map((a) => ({ from: a.acknowledgedAt, to: Infinity, credits: 1, team: null }))).peak).toBe(50);
    } finally {
      await Promise.all(apis.map((a) => a.stop()));
    }
  }, 120_000);

  it('never lets spent + reserved pass the limit while reservations are settled, cancelled and expire (3 processes, 30 clients)', async () => {
    const apis = await Promise.all([startApi(world.env), startApi(world.env), startApi(world.env)]);
    const worker = await startWorker({ ...world.env, SWEEP_INTERVAL_MS: String(SWEEP_MS) });
    try {
      const keys = await clientKeys(apis[0], world.adminKey, 10);
      const limit = 150;
      await createBudget(apis[0], world.adminKey, { name: 'company', scope: 'ORGANIZATION', limit });
      await createBudget(apis[0], world.adminKey, { name: 'team-ml', scope: 'TEAM', team: 'ml', limit: 400 });
      const load = await runBudgetLoad(() => apis, keys, { clients: 30, durationMs: 12_000 });
      console.log(
        `budget load: ${JSON.stringify({ ...load, intervals: load.intervals.length, acknowledged: load.acknowledged.length, settled: load.settled.size, failed: load.failed.slice(0, 3) })}`,
      );
      expect(load.failed).toEqual([]);
      // Nothing lost its state: no grant may be taken for a rolled-back Redis and retried.
      expect(load.unavailable).toBe(0);
      expect(load.granted).toBeGreaterThan(0);
      expect(load.refused).toBeGreaterThan(0);
      const { peak, at } = peakHeld(load.intervals);
      expect({ peak, at: new Date(at).toISOString(), overLimit: peak > limit }).toMatchObject({ overLimit: false });
      // Once every hold has ended, the budget holds exactly the acknowledged settlements.
      await pause(6000 + 2 * SWEEP_MS);
      const spent = [...load.settled.values()].reduce((a, b) => a + b, 0);
      const figures = await figuresOf(apis[2], world.adminKey);
      const company = figures.find((f) => f.limit === limit)!;
      expect(company).toMatchObject({ spent, reserved: 0 });
      const [{ open }] = await pgQuery<{ open: number }>(`SELECT count(*)::int AS open FROM compute_reservations WHERE state = 'OPEN'`);
      expect(open).toBe(0);
    } finally {
      await Promise.all([...apis.map((a) => a.stop()), worker.stop()]);
    }
  }, 150_000);

  it('rebuilds budgets and open reservations from PostgreSQL when Redis loses its data mid-load, and never over-spends', async () => {
    const apis = await Promise.all([startApi(world.env), startApi(world.env), startApi(world.env)]);
    const worker = await startWorker({ ...world.env, SWEEP_INTERVAL_MS: String(SWEEP_MS) });
    const control = new Redis(world.redis.url, { maxRetriesPerRequest: 1 });
    control.on('error', () => undefined);
    let restarted: Spawned | null = null;
    try {
      const keys = await clientKeys(apis[0], world.adminKey, 10);
      const limit = 150;
      await createBudget(apis[0], world.adminKey, { name: 'company', scope: 'ORGANIZATION', limit });
      const [{ epoch: epochBefore }] = await pgQuery<{ epoch: string }>('SELECT epoch::text AS epoch FROM compute_budget_states');
      const chaos = (async () => {
        await pause(3000);
        await control.flushall();
        await pause(3000);
        await world.redis.server.stop();
        await pause(500);
        restarted = (await startPrivateRedis([], world.redis.port)).server;
      })();
      const [load] = await Promise.all([runBudgetLoad(() => apis, keys, { clients: 30, durationMs: 14_000 }), chaos]);
      console.log(
        `budget redis loss: ${JSON.stringify({ ...load, intervals: load.intervals.length, acknowledged: load.acknowledged.length, settled: load.settled.size, failed: load.failed.slice(0, 3) })}`,
      );
      expect(load.failed).toEqual([]);
      expect(load.granted).toBeGreaterThan(0);
      // The loss was seen and healed: each rebuild raised the epoch (a request that met the
      // missing state was answered after the rebuild, or UNAVAILABLE when it could not wait).
      const [{ epoch }] = await pgQuery<{ epoch: string }>('SELECT epoch::text AS epoch FROM compute_budget_states');
      expect(Number(epoch)).toBeGreaterThan(Number(epochBefore));
      const { peak } = peakHeld(load.intervals);
      expect(peak).toBeLessThanOrEqual(limit);
      // The OPEN reservations PostgreSQL holds are back in Redis, and the figures are the database's.
      const [{ organization_id: organizationId }] = await pgQuery<{ organization_id: string }>('SELECT organization_id FROM compute_budgets LIMIT 1');
      const open = await pgQuery<{ id: string }>(`SELECT id FROM compute_reservations WHERE state = 'OPEN' AND expires_at > now() + interval '2 seconds'`);
      const store = new BudgetStore(control, `${process.env.REDIS_PREFIX}:budget`);
      const holds = await store.holds(
        organizationId,
        open.map((r) => r.id),
      );
      expect(open.filter((r) => !holds.held.has(r.id))).toEqual([]);
      // Redis's figure counts a hold until the hold is released: a reservation past its expiry
      // stays in it until the next reservation or the worker's sweep purges it, and one the
      // worker just expired in PostgreSQL is released in Redis right after. So the bound is
      // every OPEN reservation and every one expired in the last seconds.
      const [{ reserved }] = await pgQuery<{ reserved: string }>(
        `SELECT coalesce(sum(amount_micros), 0)::text AS reserved FROM compute_reservations
         WHERE state = 'OPEN' OR (state = 'EXPIRED' AND ended_at > now() - interval '30 seconds')`,
      );
      const spent = [...load.settled.values()].reduce((a, b) => a + b, 0);
      const figures = await figuresOf(apis[0], world.adminKey);
      expect(figures[0].spent).toBe(spent);
      expect(figures[0].reserved).toBeLessThanOrEqual(Number(reserved) / 1e6);
    } finally {
      control.disconnect();
      await Promise.all([...apis.map((a) => a.stop()), worker.stop()]);
      await (restarted as Spawned | null)?.stop();
    }
  }, 150_000);

  it('loses no acknowledged reservation or settlement when API processes are killed at random, and never over-spends', async () => {
    let apis: ApiProcess[] = await Promise.all([startApi(world.env), startApi(world.env), startApi(world.env)]);
    // A process killed between PostgreSQL's commit of a settlement and its Redis call leaves Redis short: the worker's check heals it.
    const worker = await startWorker({ ...world.env, SWEEP_INTERVAL_MS: String(SWEEP_MS), BUDGET_VERIFY_SECONDS: '1' });
    let kills = 0;
    try {
      const keys = await clientKeys(apis[0], world.adminKey, 10);
      const limit = 150;
      await createBudget(apis[0], world.adminKey, { name: 'company', scope: 'ORGANIZATION', limit });
      const killer = (async () => {
        for (let i = 0; i < 6; i++) {
          await pause(1000 + Math.random() * 600);
          const victim = apis[Math.floor(Math.random() * apis.length)];
          apis = apis.filter((a) => a !== victim);
          victim.signal('SIGKILL');
          await victim.exited;
          kills += 1;
          apis = [...apis, await startApi(world.env)];
        }
      })();
      const [load] = await Promise.all([runBudgetLoad(() => apis, keys, { clients: 30, durationMs: 12_000 }), killer]);
      console.log(
        `budget crash: ${kills} kills, ${JSON.stringify({ ...load, intervals: load.intervals.length, acknowledged: load.acknowledged.length, settled: load.settled.size, failed: load.failed.slice(0, 3) })}`,
      );
      expect(kills).toBe(6);
      expect(load.failed).toEqual([]);
      expect(load.granted).toBeGreaterThan(0);
      const recorded = await pgQuery<{ id: string; state: string }>('SELECT id, state FROM compute_reservations WHERE id = ANY($1::uuid[])', [
        load.acknowledged,
      ]);
      const states = new Map(recorded.map((r) => [r.id, r.state]));
      expect(load.acknowledged.filter((id) => !states.has(id))).toEqual([]);
      expect([...load.settled.keys()].filter((id) => states.get(id) !== 'SETTLED')).toEqual([]);
      expect(peakHeld(load.intervals).peak).toBeLessThanOrEqual(limit);
      // What the budget spent is exactly what was acknowledged as settled (once the worker has compared it with PostgreSQL).
      const spent = [...load.settled.values()].reduce((a, b) => a + b, 0);
      let figures = await figuresOf(apis[0], world.adminKey);
      for (let i = 0; i < 40 && figures[0].spent !== spent; i++) {
        await pause(500);
        figures = await figuresOf(apis[0], world.adminKey);
      }
      expect(figures[0].spent).toBe(spent);
    } finally {
      await Promise.all([...apis.map((a) => a.stop()), worker.stop()]);
    }
  }, 150_000);
});
