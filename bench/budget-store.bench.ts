/**
 * Reserve + settle cycles per second through the BudgetStore, beside the LeaseStore's
 * check-out + check-in cycles and the baseline scripts, measured in the same run against the
 * local Redis. Part 5 of `npm run bench:leases` (BENCH_PART=budgets runs it alone); also
 * npx ts-node --transpile-only bench/budget-store.bench.ts (BASELINE_DIR as for the lease store).
 *
 * Measured as bench/lease-store.bench.ts measures the lease store: at 1, 16 and 128 clients,
 * each an async loop sharing one ioredis connection; the cells in 15 interleaved turns of
 * 200 ms after a warm-up, their order rotating; rates are the median turn, ratios the median
 * of the per-turn ratios. The organization has three budgets, as a caller in a team commonly
 * meets: one ORGANIZATION (MONTH), one TEAM (MONTH) and one PRINCIPAL (DAY) budget, limits
 * far above what the run spends, so every reserve checks and holds all three and is granted.
 * A cycle reserves an amount, then settles it at that cost with the epoch the reserve answered.
 * Target: the budget cycles at least 0.8x the lease store's.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { BudgetStore, budgetSubjects, periodKeys } from '../src/lease-engine/budget-store';
import { unlinkPrefix } from '../test/support/redis-keys';
import { baselineCycle, BenchOptions, Cycle, leaseStoreCycle, measure, median } from './lease-store.bench';

export const BUDGET_TARGET = 0.8;

/** The lease store bench's options (without baselineDir the baseline cell is skipped), and the reservation's hold. */
export interface BudgetBenchOptions extends BenchOptions {
  /** The reservation's hold and settled cost, micro-units. */
  amountMicros?: number;
}

export interface BudgetBenchRow {
  clients: number;
  /** Median cycles/s of the cell's turns. */
  budgetStore: number;
  leaseStore: number;
  /** null: no baseline scripts. */
  baseline: number | null;
  /** Median over the turns of the budget store's rate ÷ the other cell's in the same turn. */
  budgetVsLease: number;
  budgetVsBaseline: number | null;
}

const WARMUP_MS = 300;
/** 10^15 micro-units: a billion in the currency, far above what a run spends (~10^10). */
const BIG_LIMIT = 1_000_000_000_000_000;
const RESERVATION_MS = 60_000;

export async function runBudgetBench(options: BudgetBenchOptions = {}): Promise<BudgetBenchRow[]> {
  const durationMs = options.durationMs ?? 3000;
  const slices = options.slices ?? 15;
  const cost = options.cost ?? 3;
  const redis = new Redis(options.redisUrl ?? 'redis://127.0.0.1:6379');
  const prefix = `tpbench:${randomUUID().slice(0, 8)}`;
  try {
    const cycles: Partial<Record<'budgetStore' | 'leaseStore' | 'baseline', Cycle>> = {
      budgetStore: await budgetCycle(redis, prefix, options.amountMicros ?? 2_500),
      leaseStore: await leaseStoreCycle(redis, prefix, cost),
    };
    if (options.baselineDir) cycles.baseline = baselineCycle(redis, prefix, cost, options.baselineDir);
    const names = Object.keys(cycles) as (keyof typeof cycles)[];
    const rows: BudgetBenchRow[] = [];
    for (const clients of options.concurrencies ?? [1, 16, 128]) {
      const rates: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
      for (const name of names) await measure(cycles[name]!, clients, WARMUP_MS);
      for (let slice = 0; slice < slices; slice++) {
        for (let i = 0; i < names.length; i++) {
          const name = names[(slice + i) % names.length];
          rates[name].push(await measure(cycles[name]!, clients, durationMs / slices));
        }
      }
      const perTurn = (other: number[]) =>
        median(
          rates.budgetStore.map((rate, turn) => rate / other[turn]),
          2,
        );
      rows.push({
        clients,
        budgetStore: median(rates.budgetStore),
        leaseStore: median(rates.leaseStore),
        baseline: rates.baseline ? median(rates.baseline) : null,
        budgetVsLease: perTurn(rates.leaseStore),
        budgetVsBaseline: rates.baseline ? perTurn(rates.baseline) : null,
      });
    }
    return rows;
  } finally {
    await unlinkPrefix(redis, prefix);
    redis.disconnect();
  }
}

/** An organization with an ORGANIZATION, a TEAM and a PRINCIPAL budget; the cycle reserves and settles under all three. */
async function budgetCycle(redis: Redis, prefix: string, amount: number): Promise<Cycle> {
  const store = new BudgetStore(redis, `${prefix}:budgets`);
  const organizationId = randomUUID();
  const principalId = randomUUID();
  const team = 'bench-team';
  await store.install(organizationId, {
    epoch: '1',
    seq: '0',
    budgets: [
      { id: randomUUID(), period: 'MONTH', limit: BIG_LIMIT, subject: 'o' },
      { id: randomUUID(), period: 'MONTH', limit: BIG_LIMIT, subject: `t:${team}` },
      { id: randomUUID(), period: 'DAY', limit: BIG_LIMIT, subject: `p:${principalId}` },
    ],
    spent: [],
    reservations: [],
  });
  const subjects = budgetSubjects({ principalId, team, workUnitId: null });
  return async () => {
    const reservationId = randomUUID();
    const held = await store.reserve({
      organizationId,
      reservationId,
      amount,
      reservationMs: RESERVATION_MS,
      periods: periodKeys(Date.now()),
      subjects,
    });
    if (held.status !== 'OK') throw new Error(`BudgetStore refused: ${JSON.stringify(held)}`);
    if (held.reservation.holds.length !== 3) throw new Error(`BudgetStore held ${held.reservation.holds.length} budgets, not 3`);
    const settled = await store.settle(organizationId, { reservationId, cost: amount, epoch: held.epoch, holds: held.reservation.holds });
    if (settled !== 'OK') throw new Error(`BudgetStore settle answered ${settled}`);
  };
}

/** The ratio columns are per-turn ratios (see BudgetBenchRow), not the quotients of the rate columns. */
export function formatBudgetTable(rows: BudgetBenchRow[]): string {
  const header = 'clients | BudgetStore reserve+settle/s | LeaseStore checkout+checkin/s | baseline/s | budget/lease | budget/baseline | ≥ 0.8x lease';
  const lines = rows.map((r) =>
    [
      String(r.clients).padStart(7),
      String(r.budgetStore).padStart(28),
      String(r.leaseStore).padStart(29),
      String(r.baseline ?? 'skipped').padStart(10),
      r.budgetVsLease.toFixed(2).padStart(12),
      (r.budgetVsBaseline === null ? 'skipped' : r.budgetVsBaseline.toFixed(2)).padStart(15),
      (r.budgetVsLease >= BUDGET_TARGET ? 'met' : 'NOT met').padStart(12),
    ].join(' | '),
  );
  return [header, '-'.repeat(header.length), ...lines].join('\n');
}

if (require.main === module) {
  const beside = join(__dirname, '..', '..', 'shared', 'bench');
  const dir = process.env.BASELINE_DIR ?? beside;
  const baselineDir = existsSync(join(dir, 'baseline-checkout.lua')) ? dir : undefined;
  runBudgetBench({ baselineDir })
    .then((rows) => console.log(formatBudgetTable(rows)))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
