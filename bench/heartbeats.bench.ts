/**
 * npm run bench:heartbeats — heartbeats per second through the API's heartbeat path
 * (LeasesService, below GraphQL and authentication, which are the same for both), on this
 * machine's Redis and PostgreSQL, at 1, 16 and 64 concurrent callers over 256 leases:
 *   now:    the lease's card (memory), one Redis function call, PostgreSQL written behind in
 *           batches (the flushes run in the same process, so their cost counts);
 *   before: the path before issue 13, rebuilt here from the same pieces: read the lease row,
 *           the same Redis call, then one UPDATE of the row per heartbeat.
 * The two cells are measured in turns (BENCH_TURNS, 6) of BENCH_SLICE_MS (400 ms) after a
 * warm-up, and each reports its median turn; the ratio is the median over the turns of
 * now ÷ before in the same turn, so a busy spell on this shared machine counts against no
 * one. Needs `npm run build` first (for the migrations; npm run bench:heartbeats does it).
 * Uses its own database (tokenpool_bench_heartbeats, recreated) and Redis key prefix.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import type { AuthContext } from '../src/auth/auth-context';
import { unlinkPrefix } from '../test/support/redis-keys';
import { median } from './lease-store.bench';
import { freshDatabase } from './bench-support';

const ROOT = join(__dirname, '..');
const DATABASE = 'tokenpool_bench_heartbeats';
const TURNS = Number(process.env.BENCH_TURNS ?? 6);
const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 400);
const WARMUP_MS = 300;
const LEASES = 256;
const CONCURRENCIES = [1, 16, 64];

type Beat = (leaseId: string) => Promise<unknown>;

interface Row {
  callers: number;
  now: number;
  before: number;
  ratio: number;
}

/** `callers` loops, each heartbeating its own share of the leases in turn, for durationMs; heartbeats per second. */
async function measure(beat: Beat, leaseIds: string[], callers: number, durationMs: number): Promise<number> {
  const deadline = Date.now() + durationMs;
  let done = 0;
  const caller = async (index: number) => {
    for (let k = index; Date.now() < deadline; k += callers) {
      await beat(leaseIds[k % leaseIds.length]);
      done += 1;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: callers }, (_, i) => caller(i)));
  return Math.round((done * 1000) / (Date.now() - started));
}

async function gql(app: NestFastifyApplication, key: string, query: string, variables: Record<string, unknown>): Promise<Record<string, { id: string }>> {
  const res = await app
    .getHttpAdapter()
    .getInstance()
    .inject({
      method: 'POST',
      url: '/graphql',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      payload: JSON.stringify({ query, variables }),
    });
  const body = res.json<{ data?: Record<string, { id: string }>; errors?: unknown }>();
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function main(): Promise<void> {
  const prefix = `tpbench:hb${randomUUID().slice(0, 8)}`;
  Object.assign(process.env, {
    DATABASE_URL: await freshDatabase(DATABASE),
    DATABASE_CREATE: 'false',
    MIGRATIONS_RUN: 'false',
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    METRICS_PORT: '0',
    RATE_LIMIT_PER_KEY: '10000000',
  });
  execFileSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'migrate'], { env: process.env, stdio: 'pipe' });
  // Loaded once the environment is set: the configuration is read when the app is built.
  const { createApiApp } = await import('../src/app.setup');
  const { OnboardingService } = await import('../src/onboarding/onboarding.service');
  const { RequestAuthService } = await import('../src/auth/request-auth.service');
  const { LeasesService } = await import('../src/leases/leases.service');
  const { LeaseRecordsService } = await import('../src/leases/lease-records.service');
  const { LeaseStore } = await import('../src/lease-engine/lease-store');
  const { mayActOnLease } = await import('../src/leases/lease-access');
  const app = await createApiApp();
  await app.init();
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  try {
    const { adminKey } = await app.get(OnboardingService).createOrganization({ name: 'bench' });
    const poolId = (await gql(app, adminKey, 'mutation { createPool(input: { name: "p", cap: 1000000, maxLeaseSeconds: 3600 }) { id } }', {})).createPool.id;
    await gql(app, adminKey, 'mutation($p: ID!) { createApp(input: { poolId: $p, key: "solver", name: "solver", cost: 1 }) { id } }', { p: poolId });
    const leaseIds: string[] = [];
    for (let i = 0; i < LEASES; i++) {
      const lease = await gql(app, adminKey, 'mutation($p: ID!) { checkout(input: { poolId: $p, app: "solver", leaseSeconds: 3600 }) { id } }', { p: poolId });
      leaseIds.push(lease.checkout.id);
    }
    const auth: AuthContext = await app.get(RequestAuthService).authenticate(`Bearer ${adminKey}`);
    const leases = app.get(LeasesService);
    const records = app.get(LeaseRecordsService);
    const store = app.get(LeaseStore);
    const dataSource = app.get(DataSource);
    const cells: Record<'now' | 'before', Beat> = {
      now: (id) => leases.heartbeat(auth, id, false),
      before: async (id) => {
        const lease = await records.findInOrganization(auth.organizationId, id);
        if (!lease || !mayActOnLease(auth, lease) || lease.state !== 'ACTIVE') throw new Error(`lease ${id} is not active`);
        const result = await store.heartbeat({ poolId: lease.poolId, leaseId: id, leaseMs: lease.leaseSeconds * 1000 });
        if (result.status !== 'OK') throw new Error(`lease ${id}: ${result.status}`);
        await dataSource.query(
          `UPDATE leases SET expires_at = $2, last_heartbeat_at = now(),
                  idle_since = CASE WHEN $3 THEN coalesce(idle_since, last_heartbeat_at, acquired_at) ELSE NULL END
           WHERE id = $1 AND state = 'ACTIVE' RETURNING last_heartbeat_at, idle_since`,
          [id, new Date(result.expiresAtMs), false],
        );
      },
    };
    const rows: Row[] = [];
    for (const callers of CONCURRENCIES) {
      const rates = { now: [] as number[], before: [] as number[] };
      for (const name of ['now', 'before'] as const) await measure(cells[name], leaseIds, callers, WARMUP_MS);
      for (let turn = 0; turn < TURNS; turn++) {
        const order = turn % 2 === 0 ? (['now', 'before'] as const) : (['before', 'now'] as const);
        for (const name of order) rates[name].push(await measure(cells[name], leaseIds, callers, SLICE_MS));
      }
      rows.push({
        callers,
        now: median(rates.now),
        before: median(rates.before),
        ratio: median(
          rates.now.map((rate, turn) => rate / rates.before[turn]),
          2,
        ),
      });
    }
    const header = 'callers | now heartbeats/s | before heartbeats/s | now/before';
    console.log(
      [
        header,
        '-'.repeat(header.length),
        ...rows.map((r) =>
          [String(r.callers).padStart(7), String(r.now).padStart(16), String(r.before).padStart(19), r.ratio.toFixed(2).padStart(10)].join(' | '),
        ),
      ].join('\n'),
    );
  } finally {
    await app.close();
    await unlinkPrefix(redis, prefix);
    redis.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
