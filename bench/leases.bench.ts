/**
 * npm run bench:leases — measured in one run, on this machine's Redis and PostgreSQL:
 *  1. check-out + check-in cycles per second of the lease store at 1, 16 and 128 clients,
 *     beside the shared baseline scripts and redis-semaphore (bench/lease-store.bench.ts);
 *  2. end-to-end GraphQL check-out + check-in through the running API (dist/main.js) at 16
 *     and 64 connections, with p50/p99 latency, beside a plain Fastify route that runs the
 *     baseline script (bench/plain-route.ts);
 *  3. the lease store on a private Redis Cluster of three primaries beside a private Redis
 *     (bench/cluster.bench.ts): on a machine of few cores, the cluster client's overhead, not scaling;
 *  4. lease-heartbeats per second of API CPU through the batched `heartbeats` mutation (500
 *     leases a call) beside single `heartbeat` calls (bench/heartbeats-batch.bench.ts);
 *  5. compute budgets: reserve + settle cycles per second through the budget store (three
 *     budgets a reservation) beside the lease store's check-out + check-in cycles and the
 *     baseline scripts, in interleaved turns (bench/budget-store.bench.ts). Target: 0.8x the
 *     lease store's cycles.
 * Needs `npm run build` first (npm run bench:leases does it). Uses its own database
 * (tokenpool_bench, recreated) and Redis key prefix; everything it starts, it stops.
 * The baseline scripts are not in this repository: BASELINE_DIR, by default ../shared/bench
 * beside the clone. Without them it runs what needs no baseline and says what it skipped.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { unlinkPrefix } from '../test/support/redis-keys';
import { BUDGET_TARGET, formatBudgetTable, runBudgetBench } from './budget-store.bench';
import { formatClusterTable, runClusterBench } from './cluster.bench';
import { formatBatchHeartbeatsTable, runBatchHeartbeatsBench } from './heartbeats-batch.bench';
import { formatBenchTable, median, runLeaseStoreBench } from './lease-store.bench';
import { benchApiEnv, createBenchOrganization, freshDatabase, waitForUrl } from './bench-support';

const ROOT = join(__dirname, '..');
const BASELINE_DIR = process.env.BASELINE_DIR ?? join(ROOT, '..', 'shared', 'bench');
const HAS_BASELINE = ['baseline-checkout.lua', 'baseline-checkin.lua'].every((file) => existsSync(join(BASELINE_DIR, file)));
const NO_BASELINE = `the baseline scripts are not in ${BASELINE_DIR} (set BASELINE_DIR to the folder of baseline-checkout.lua and baseline-checkin.lua)`;
const DURATION_S = Number(process.env.BENCH_SECONDS ?? 8);
/** Each cell's BENCH_SECONDS is split into this many turns, interleaved with the other cells'. */
const TURNS = Number(process.env.BENCH_TURNS ?? 4);
const API_NODE_FLAGS = ['--max-semi-space-size=32'];

interface HttpFigures {
  cyclesPerSecond: number;
  p50: number;
  p99: number;
}

interface CycleCell {
  url: string;
  paths: [string, string];
  connections: number;
  headers: Record<string, string>;
  checkout: string;
  checkin: (id: string) => string;
  idOf: (body: string) => string | undefined;
}

function start(file: string, env: Record<string, string>, args: string[] = []): ChildProcess {
  return spawn(process.execPath, [...args, file], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Pairs of requests per connection: a check-out, then the check-in of the lease it returned. */
let failures = 0;

async function cycles(options: CycleCell, seconds: number): Promise<HttpFigures> {
  failures = 0;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: seconds,
    headers: { 'content-type': 'application/json', ...options.headers },
    requests: [
      {
        method: 'POST',
        path: options.paths[0],
        body: options.checkout,
        onResponse: (_status: number, body: string, context: Record<string, unknown>) => {
          context.id = options.idOf(body);
          if (!context.id) failures += 1;
        },
      },
      {
        method: 'POST',
        path: options.paths[1],
        setupRequest: (request: Record<string, unknown>, context: Record<string, unknown>) => ({ ...request, body: options.checkin(String(context.id)) }),
      },
    ],
  } as autocannon.Options);
  if (result.non2xx > 0 || result.errors > 0 || failures > 0) {
    throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors and ${failures} check-outs without a lease at ${options.url}`);
  }
  return { cyclesPerSecond: Math.round(result.requests.average / 2), p50: result.latency.p50, p99: result.latency.p99 };
}

/** Requests per second of one request repeated: the cost of a request before any resolver runs. */
async function requestsPerSecond(
  options: { url: string; connections: number; headers: Record<string, string>; body: string },
  seconds: number,
): Promise<number> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: options.body,
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx answers and ${result.errors} errors at ${options.url}`);
  return Math.round(result.requests.average);
}

/** The API's keys in the shared Redis (its pools, rate-limit counters), once it has stopped. */
async function removeKeys(prefix: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  try {
    await unlinkPrefix(redis, `${prefix}:`);
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  // BENCH_PART=store, http, cluster, heartbeats or budgets runs one of the five parts.
  const part = process.env.BENCH_PART;
  if (part === 'heartbeats') return heartbeatsPart();
  if (part === 'budgets') return budgetsPart();
  if (part === undefined || part === 'cluster') {
    console.log(
      '3. Lease store on a Redis Cluster of 3 primaries beside one Redis (private servers; same machine, so the client overhead, not scaling), cycles/s',
    );
    console.log(formatClusterTable(await runClusterBench()));
    if (part === 'cluster') return;
  }
  if (part !== 'http') {
    console.log('1. Lease store (one Redis round trip per operation), cycles/s');
    // runLeaseStoreBench measures every turn against the baseline cell, so it cannot run without it.
    if (HAS_BASELINE) console.log(formatBenchTable(await runLeaseStoreBench({ baselineDir: BASELINE_DIR })));
    else console.log(`skipped: ${NO_BASELINE}`);
  }
  if (part === 'store') return;

  console.log(`\n2. End to end over HTTP, ${DURATION_S} s per cell in ${TURNS} turns, check-out + check-in cycles/s (medians of the turns)`);
  const databaseUrl = await freshDatabase('tokenpool_bench');
  const env = benchApiEnv({ databaseUrl, redisPrefix: 'tpbench:api', port: 3901 });
  const created = createBenchOrganization(env);
  // The API runs as shipped (Dockerfile, Helm, npm start), and the plain route with the same V8 flags.
  const api = start(join(ROOT, 'dist', 'main.js'), env, API_NODE_FLAGS);
  // The plain route runs the baseline scripts: without them only the GraphQL cells run.
  const plain = HAS_BASELINE
    ? start(join(ROOT, 'bench', 'plain-route.ts'), { PORT: '3902', BASELINE_DIR }, [...API_NODE_FLAGS, '-r', 'ts-node/register/transpile-only'])
    : undefined;
  if (!plain) console.log(`skipped: the plain route's cells and the ratios to them, because ${NO_BASELINE}`);
  try {
    await waitForUrl('http://127.0.0.1:3901/health/ready', 500);
    if (plain) await waitForUrl('http://127.0.0.1:3902/', 500);
    const auth = { authorization: `Bearer ${created.adminKey}` };
    const gql = async (query: string) =>
      (await (
        await fetch('http://127.0.0.1:3901/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...auth },
          body: JSON.stringify({ query }),
        })
      ).json()) as { data: Record<string, { id: string }> };
    const poolId = (await gql('mutation { createPool(input: { name: "bench", cap: 1000000000 }) { id } }')).data.createPool.id;
    await gql(`mutation { createApp(input: { poolId: "${poolId}", key: "tool", name: "Tool", cost: 3 }) { id } }`);
    const table: string[] = [
      'connections | GraphQL cycles/s | p50 ms | p99 ms | plain route cycles/s | p50 ms | p99 ms | GraphQL ÷ plain | floor: { __typename } req/s ÷ plain route req/s',
      '---|---|---|---|---|---|---|---|---',
    ];
    const graphqlCell = (connections: number): CycleCell => ({
      url: 'http://127.0.0.1:3901',
      paths: ['/graphql', '/graphql'],
      connections,
      headers: auth,
      checkout: JSON.stringify({ query: `mutation { checkout(input: { poolId: "${poolId}", app: "tool" }) { id fencingToken } }` }),
      // As GraphQL clients send it: one document, the lease id in its variables (so the
      // server's parsed, validated and compiled copy of the document is reused).
      checkin: (id) => JSON.stringify({ query: 'mutation($id: ID!) { checkin(leaseId: $id) { state } }', variables: { id } }),
      idOf: (body) => (JSON.parse(body) as { data?: { checkout?: { id: string } } }).data?.checkout?.id,
    });
    const routeCell = (connections: number): CycleCell => ({
      url: 'http://127.0.0.1:3902',
      paths: ['/checkout', '/checkin'],
      connections,
      headers: {},
      checkout: '{}',
      checkin: (id) => JSON.stringify({ id }),
      idOf: (body) => (JSON.parse(body) as { id: string }).id,
    });
    // The floor: an authenticated GraphQL request that runs no resolver (key check, rate
    // limit, parse/validate cache, Nest and Mercurius), beside the plain route's requests.
    const floorCell = (connections: number) => ({
      url: 'http://127.0.0.1:3901/graphql',
      connections,
      headers: auth,
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    // Both servers start cold (V8 has optimised nothing, GraphQL documents are not yet
    // compiled): a warm-up that is not measured.
    await cycles(graphqlCell(16), 3);
    if (plain) await cycles(routeCell(16), 3);
    await requestsPerSecond(floorCell(16), 2);
    const seconds = DURATION_S / TURNS;
    for (const connections of [16, 64]) {
      // The three cells run in turns, their order rotating, so a slow spell of the machine
      // falls on all of them; a ratio is the median of the turns' ratios.
      const graphql: HttpFigures[] = [];
      const route: HttpFigures[] = [];
      const floor: number[] = [];
      const cells = [
        async () => graphql.push(await cycles(graphqlCell(connections), seconds)),
        ...(plain ? [async () => route.push(await cycles(routeCell(connections), seconds))] : []),
        async () => floor.push(await requestsPerSecond(floorCell(connections), seconds)),
      ];
      for (let turn = 0; turn < TURNS; turn++) {
        for (let i = 0; i < cells.length; i++) await cells[(turn + i) % cells.length]();
      }
      const rate = (figures: HttpFigures[]) => median(figures.map((f) => f.cyclesPerSecond));
      const p = (figures: HttpFigures[], key: 'p50' | 'p99') => median(figures.map((f) => f[key]));
      const graphqlColumns = `${connections} | ${rate(graphql)} | ${p(graphql, 'p50')} | ${p(graphql, 'p99')}`;
      if (plain) {
        const ratio = median(
          graphql.map((g, turn) => g.cyclesPerSecond / route[turn].cyclesPerSecond),
          2,
        );
        const floorRatio = median(
          floor.map((f, turn) => f / (route[turn].cyclesPerSecond * 2)),
          2,
        );
        table.push(
          `${graphqlColumns} | ${rate(route)} | ${p(route, 'p50')} | ${p(route, 'p99')} | ${ratio.toFixed(2)} | ${median(floor)} ÷ ${rate(route) * 2} → ${floorRatio.toFixed(2)}`,
        );
      } else {
        table.push(`${graphqlColumns} | skipped | skipped | skipped | skipped | ${median(floor)} ÷ skipped`);
      }
    }
    console.log(table.join('\n'));
  } finally {
    api.kill('SIGTERM');
    plain?.kill('SIGTERM');
    await removeKeys(env.REDIS_PREFIX);
  }
  if (part === undefined) {
    await clusterPart();
    await heartbeatsPart();
    await budgetsPart();
  }
}

async function budgetsPart(): Promise<void> {
  console.log(
    `\n5. Compute budgets: reserve + settle cycles/s through the budget store (ORGANIZATION, TEAM and PRINCIPAL budget on every reserve) beside the lease store's check-out + check-in cycles${HAS_BASELINE ? ' and the baseline scripts' : ''}, same connection and clients, interleaved turns`,
  );
  if (!HAS_BASELINE) console.log(`(baseline column skipped: ${NO_BASELINE})`);
  const rows = await runBudgetBench({ baselineDir: HAS_BASELINE ? BASELINE_DIR : undefined });
  console.log(formatBudgetTable(rows));
  const missed = rows.filter((r) => r.budgetVsLease < BUDGET_TARGET);
  console.log(
    missed.length === 0
      ? `Target met: the budget store does at least ${BUDGET_TARGET}x the lease store's cycles at every concurrency.`
      : `Target NOT met (at least ${BUDGET_TARGET}x the lease store's cycles) at ${missed.map((r) => `${r.clients} client${r.clients === 1 ? '' : 's'} (${r.budgetVsLease.toFixed(2)}x)`).join(', ')}.`,
  );
}

async function heartbeatsPart(): Promise<void> {
  console.log(
    `\n4. Heartbeats through the API, ${DURATION_S} s per arm in ${TURNS} turns: batched (500 leases a call) beside single calls, neither selecting proof`,
  );
  const env = {
    ...process.env,
    DATABASE_URL: await freshDatabase('tokenpool_bench_batch'),
    REDIS_PREFIX: 'tpbench:batch',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_KEY: '10000000',
    METRICS_PORT: '0',
    HOST: '127.0.0.1',
  } as Record<string, string>;
  try {
    console.log(formatBatchHeartbeatsTable(await runBatchHeartbeatsBench({ env, port: 3903, seconds: DURATION_S, turns: TURNS, nodeFlags: API_NODE_FLAGS })));
  } finally {
    await removeKeys(env.REDIS_PREFIX);
  }
}

async function clusterPart(): Promise<void> {
  console.log(
    '\n3. Lease store on a Redis Cluster of 3 primaries beside one Redis (private servers on this machine: the client overhead, not scaling), cycles/s',
  );
  console.log(formatClusterTable(await runClusterBench()));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
