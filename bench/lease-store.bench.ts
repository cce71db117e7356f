/**
 * Check-out + check-in cycles per second against the local Redis, for the LeaseStore, the
 * baseline scripts (the least a lease store must do) and redis-semaphore's MultiSemaphore,
 * measured in the same run. Run: npx ts-node --transpile-only bench/lease-store.bench.ts
 *
 * The concurrent clients of a cell are async loops sharing one ioredis connection, as the
 * API's request handlers share the process's command connection. The three cells of a row
 * are measured in turns, in short slices after a warm-up, and each reports its median slice:
 * other processes on the machine (tests, builds) then slow all three alike instead of
 * whichever cell they happen to overlap. The order of the cells rotates from turn to turn, so
 * none always runs right after the same other one (and its garbage). The ratios compare the
 * cells within each turn (median over the turns), so a slow spell counts against no one.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { MultiSemaphore } from 'redis-semaphore';
import { LeaseStore } from '../src/lease-engine/lease-store';
import { unlinkPrefix } from '../test/support/redis-keys';

export interface BenchOptions {
  redisUrl?: string;
  /** Measured time per cell, split into `slices` turns. */
  durationMs?: number;
  slices?: number;
  concurrencies?: number[];
  /** Folder of baseline-checkout.lua and baseline-checkin.lua. */
  baselineDir?: string;
  cost?: number;
}

export interface BenchRow {
  clients: number;
  /** Median cycles/s of the cell's turns. */
  leaseStore: number;
  baseline: number;
  semaphore: number;
  /** Median over the turns of the store's rate ÷ the other cell's in the same turn. */
  storeVsBaseline: number;
  storeVsSemaphore: number;
}

/** One check-out + check-in; a worker repeats it until the cell's time is up. */
export type Cycle = () => Promise<void>;

const CAP = 1_000_000_000;
const LEASE_MS = 60_000;
const WARMUP_MS = 300;

export async function runLeaseStoreBench(options: BenchOptions = {}): Promise<BenchRow[]> {
  const durationMs = options.durationMs ?? 3000;
  const cost = options.cost ?? 3;
  const redis = new Redis(options.redisUrl ?? 'redis://127.0.0.1:6379');
  const prefix = `tpbench:${randomUUID().slice(0, 8)}`;
  try {
    const cycles = {
      leaseStore: await leaseStoreCycle(redis, prefix, cost),
      baseline: baselineCycle(redis, prefix, cost, options.baselineDir ?? defaultBaselineDir()),
      semaphore: semaphoreCycle(redis, prefix, cost),
    };
    // 15 turns of 200 ms: on this shared 2-core machine (load 2.6 to 4), four runs each gave
    // per-turn store ratios within 0.03-0.05 of each other, against 0.12-0.14 for 6 of 500 ms.
    const slices = options.slices ?? 15;
    const rows: BenchRow[] = [];
    for (const clients of options.concurrencies ?? [1, 16, 128]) {
      const rates: Record<keyof typeof cycles, number[]> = { leaseStore: [], baseline: [], semaphore: [] };
      const names = Object.keys(cycles) as (keyof typeof cycles)[];
      for (const name of names) await measure(cycles[name], clients, WARMUP_MS);
      for (let slice = 0; slice < slices; slice++) {
        for (let i = 0; i < names.length; i++) {
          const name = names[(slice + i) % names.length];
          rates[name].push(await measure(cycles[name], clients, durationMs / slices));
        }
      }
      const perTurn = (other: number[]) =>
        median(
          rates.leaseStore.map((rate, turn) => rate / other[turn]),
          2,
        );
      rows.push({
        clients,
        leaseStore: median(rates.leaseStore),
        baseline: median(rates.baseline),
        semaphore: median(rates.semaphore),
        storeVsBaseline: perTurn(rates.baseline),
        storeVsSemaphore: perTurn(rates.semaphore),
      });
    }
    return rows;
  } finally {
    await unlinkPrefix(redis, prefix);
    redis.disconnect();
  }
}

/** A check-out + check-in cycle through a LeaseStore of its own under `prefix`, one pool of one app. */
export async function leaseStoreCycle(redis: Redis, prefix: string, cost: number): Promise<Cycle> {
  const store = new LeaseStore(redis, `${prefix}:store`);
  const poolId = 'bench';
  await store.install(poolId, {
    epoch: 1,
    cap: CAP,
    apps: [{ appId: 'solver', cost, shareScope: 'NONE', lingerMs: 0 }],
    groups: [],
    leases: [],
    graceMs: 0,
  });
  return () => storeCycle(store, poolId);
}

/** One check-out and check-in of the bench's `solver` app on a pool the bench configured. */
export async function storeCycle(store: LeaseStore, poolId: string): Promise<void> {
  // The store dedupes on leaseId and ignores requestId, so a caller makes one id per request.
  const leaseId = randomUUID();
  const grant = await store.checkout({
    poolId,
    requestId: leaseId,
    leaseId,
    appId: 'solver',
    principalId: 'bench-user',
    team: null,
    host: null,
    workUnitId: null,
    leaseMs: LEASE_MS,
  });
  if (grant.status !== 'GRANTED') throw new Error(`LeaseStore refused: ${grant.status}`);
  await store.checkin({ poolId, leaseId });
}

type BaselineRedis = Redis & {
  baselineCheckout(...args: (string | number)[]): Promise<[number, number, number]>;
  baselineCheckin(...args: (string | number)[]): Promise<number>;
};

/** The baseline scripts run unchanged, with the KEYS and ARGV their headers describe. */
export function baselineCycle(redis: Redis, prefix: string, cost: number, dir: string): Cycle {
  const client = redis as BaselineRedis;
  client.defineCommand('baselineCheckout', { numberOfKeys: 3, lua: readFileSync(join(dir, 'baseline-checkout.lua'), 'utf8') });
  client.defineCommand('baselineCheckin', { numberOfKeys: 3, lua: readFileSync(join(dir, 'baseline-checkin.lua'), 'utf8') });
  const base = `${prefix}:baseline:{pool:bench}`;
  const keys = [`${base}:leases`, `${base}:costs`, `${base}:used`];
  return async () => {
    const leaseId = randomUUID();
    const [status] = await client.baselineCheckout(...keys, CAP, cost, leaseId, LEASE_MS);
    if (status !== 1) throw new Error(`baseline refused: ${status}`);
    await client.baselineCheckin(...keys, leaseId);
  };
}

function semaphoreCycle(redis: Redis, prefix: string, cost: number): Cycle {
  const key = `${prefix}:semaphore`;
  return async () => {
    const semaphore = new MultiSemaphore(redis, key, CAP, cost, {
      lockTimeout: LEASE_MS,
      acquireAttemptsLimit: 1,
      refreshInterval: 0,
    });
    await semaphore.acquire();
    await semaphore.release();
  };
}

export async function measure(cycle: Cycle, clients: number, durationMs: number): Promise<number> {
  const deadline = Date.now() + durationMs;
  let done = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      await cycle();
      done += 1;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: clients }, worker));
  return Math.round((done * 1000) / (Date.now() - started));
}

export function median(values: number[], digits = 0): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const value = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return Number(value.toFixed(digits));
}

function defaultBaselineDir(): string {
  const beside = join(__dirname, '..', '..', 'shared', 'bench');
  if (existsSync(join(beside, 'baseline-checkout.lua'))) return beside;
  const fromEnv = process.env.BASELINE_DIR;
  if (!fromEnv) throw new Error(`Baseline scripts not found in ${beside}; set BASELINE_DIR`);
  return fromEnv;
}

/** The ratio columns are per-turn ratios (see BenchRow), not the quotients of the rate columns. */
export function formatBenchTable(rows: BenchRow[]): string {
  const header = 'clients | LeaseStore ops/s | baseline ops/s | redis-semaphore ops/s | LeaseStore/baseline | LeaseStore/semaphore';
  const lines = rows.map((r) =>
    [
      String(r.clients).padStart(7),
      String(r.leaseStore).padStart(16),
      String(r.baseline).padStart(14),
      String(r.semaphore).padStart(21),
      r.storeVsBaseline.toFixed(2).padStart(19),
      r.storeVsSemaphore.toFixed(2).padStart(20),
    ].join(' | '),
  );
  return [header, '-'.repeat(header.length), ...lines].join('\n');
}

if (require.main === module) {
  runLeaseStoreBench()
    .then((rows) => console.log(formatBenchTable(rows)))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
