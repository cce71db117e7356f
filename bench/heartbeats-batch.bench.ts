/**
 * Part 4 of npm run bench:leases: lease-heartbeats per second of the API's CPU through the
 * batched `heartbeats` mutation (500 leases per call) beside single `heartbeat` calls, in the
 * same run against the same API process (dist/main.js, as shipped). Neither arm selects
 * `proof`. The API's CPU time is read from /proc/<pid>/stat around each turn, so the figure
 * is what a heartbeat costs the server, whatever the load generator costs. The two arms run
 * in turns (BENCH_TURNS) of BENCH_SECONDS / BENCH_TURNS each; the ratio is the median of the
 * turns' ratios.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createBenchOrganization } from './bench-support';
import { median } from './lease-store.bench';

const ROOT = join(__dirname, '..');
const LEASES = 1000;
const PER_CALL = 500;
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

interface ArmFigures {
  /** Lease-heartbeats answered per second of wall time. */
  perSecond: number;
  /** Lease-heartbeats answered per second of the API's CPU time. */
  perCpuSecond: number;
}

export interface BatchHeartbeatsRow {
  single: ArmFigures;
  batched: ArmFigures;
  ratio: number;
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

async function arm(
  api: { url: string; pid: number; key: string },
  options: { connections: number; body: (i: number) => string; leasesPerRequest: number; check: (body: string) => boolean },
  seconds: number,
): Promise<ArmFigures> {
  let next = 0;
  let failures = 0;
  const cpuBefore = cpuSeconds(api.pid);
  const result = await autocannon({
    url: `${api.url}/graphql`,
    connections: options.connections,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${api.key}` },
    requests: [
      {
        setupRequest: (request: autocannon.Request) => ({ ...request, body: options.body(next++) }),
        onResponse: (_status: number, body: string) => {
          if (!options.check(body)) failures += 1;
        },
      },
    ],
  } as autocannon.Options);
  const cpu = cpuSeconds(api.pid) - cpuBefore;
  if (result.non2xx > 0 || result.errors > 0 || failures > 0) {
    throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors and ${failures} answers with a refused lease`);
  }
  const leaseBeats = result.requests.total * options.leasesPerRequest;
  return { perSecond: Math.round(leaseBeats / seconds), perCpuSecond: Math.round(leaseBeats / cpu) };
}

/** Starts its own API on `port` over `databaseUrl`, checks out LEASES leases and measures both arms. */
export async function runBatchHeartbeatsBench(options: {
  env: Record<string, string>;
  port: number;
  seconds: number;
  turns: number;
  nodeFlags: string[];
}): Promise<BatchHeartbeatsRow> {
  const env = { ...options.env, PORT: String(options.port) };
  const created = createBenchOrganization(env, 'bench-heartbeats');
  const child: ChildProcess = spawn(process.execPath, [...options.nodeFlags, join(ROOT, 'dist', 'main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${options.port}`;
  try {
    for (
      let i = 0;
      (await fetch(`${url}/health/ready`).then(
        (r) => r.ok,
        () => false,
      )) === false;
      i++
    ) {
      if (i > 300) throw new Error('the API did not come up');
      await new Promise((r) => setTimeout(r, 100));
    }
    const gql = async <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${created.adminKey}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { data?: T; errors?: unknown };
      if (!body.data) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    const poolId = (
      await gql<{ createPool: { id: string } }>('mutation { createPool(input: { name: "heartbeats", cap: 100000, maxLeaseSeconds: 3600 }) { id } }')
    ).createPool.id;
    await gql('mutation($p: ID!) { createApp(input: { poolId: $p, key: "tool", name: "Tool", cost: 1 }) { id } }', { p: poolId });
    const ids: string[] = [];
    for (let i = 0; i < LEASES; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, () =>
          gql<{ checkout: { id: string } }>('mutation($p: ID!) { checkout(input: { poolId: $p, app: "tool", leaseSeconds: 3600 }) { id } }', { p: poolId }),
        ),
      );
      ids.push(...batch.map((b) => b.checkout.id));
    }
    const api = { url, pid: child.pid!, key: created.adminKey };
    const single = {
      connections: 16,
      leasesPerRequest: 1,
      body: (i: number) => JSON.stringify({ query: 'mutation($id: ID!) { heartbeat(leaseId: $id) { id expiresAt } }', variables: { id: ids[i % LEASES] } }),
      check: (body: string) => body.includes('"expiresAt"') && !body.includes('"errors"'),
    };
    const batches = [ids.slice(0, PER_CALL), ids.slice(PER_CALL, 2 * PER_CALL)].map((leaseIds) =>
      JSON.stringify({ query: 'mutation($ids: [ID!]!) { heartbeats(leaseIds: $ids) { leaseId code lease { expiresAt } } }', variables: { ids: leaseIds } }),
    );
    const batched = {
      connections: 4,
      leasesPerRequest: PER_CALL,
      body: (i: number) => batches[i % batches.length],
      check: (body: string) => !body.includes('"errors"') && !/"code":"/.test(body),
    };
    // Warm-up, not measured: V8 optimises, the documents are compiled, the cards are in memory.
    await arm(api, single, 2);
    await arm(api, batched, 2);
    const seconds = options.seconds / options.turns;
    const singles: ArmFigures[] = [];
    const batcheds: ArmFigures[] = [];
    for (let turn = 0; turn < options.turns; turn++) {
      if (turn % 2 === 0) {
        singles.push(await arm(api, single, seconds));
        batcheds.push(await arm(api, batched, seconds));
      } else {
        batcheds.push(await arm(api, batched, seconds));
        singles.push(await arm(api, single, seconds));
      }
    }
    const figures = (list: ArmFigures[]): ArmFigures => ({
      perSecond: median(list.map((f) => f.perSecond)),
      perCpuSecond: median(list.map((f) => f.perCpuSecond)),
    });
    return {
      single: figures(singles),
      batched: figures(batcheds),
      ratio: median(
        batcheds.map((b, turn) => b.perCpuSecond / singles[turn].perCpuSecond),
        1,
      ),
    };
  } finally {
    child.kill('SIGTERM');
  }
}

export function formatBatchHeartbeatsTable(row: BatchHeartbeatsRow): string {
  return [
    'arm | lease-heartbeats/s | lease-heartbeats per API CPU second',
    '---|---|---',
    `single heartbeat (16 connections) | ${row.single.perSecond} | ${row.single.perCpuSecond}`,
    `heartbeats, ${PER_CALL} leases per call (4 connections) | ${row.batched.perSecond} | ${row.batched.perCpuSecond}`,
    `batched ÷ single, per API CPU second (target ≥ 20) | | ${row.ratio.toFixed(1)}`,
  ].join('\n');
}
