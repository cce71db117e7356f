/**
 * The lease store on a Redis Cluster of three primaries beside one Redis, in the same run:
 * check-out + check-in cycles per second over 12 pools (spread over the primaries by their
 * hash tags), from async clients sharing one auto-pipelined connection, as the API's do.
 * Both are private redis-servers started here on free loopback ports, with the same settings
 * (no persistence), and stopped by their pids. On a machine with few cores the three primaries
 * and the client share the same CPUs, so this shows the cost of the cluster client (slot
 * routing, one pipeline per node), not the scaling a cluster gives on separate machines.
 * The two cells run in turns, their order rotating; the ratio is the median of the turns'.
 */
import Redis, { Cluster } from 'ioredis';
import { LeaseStore } from '../src/lease-engine/lease-store';
import { startPrivateCluster, startPrivateRedis } from '../test/support/processes';
import { Cycle, measure, median, storeCycle as oneCycle } from './lease-store.bench';

const POOLS = 12;
const CAP = 1_000_000_000;

export interface ClusterBenchRow {
  clients: number;
  single: number;
  cluster: number;
  clusterVsSingle: number;
}

async function storeCycle(redis: Redis | Cluster): Promise<Cycle> {
  const store = new LeaseStore(redis, 'tpbench:cluster');
  const pools = Array.from({ length: POOLS }, (_, i) => `bench-${i}`);
  for (const poolId of pools) {
    await store.install(poolId, {
      epoch: 1,
      cap: CAP,
      apps: [{ appId: 'solver', cost: 3, shareScope: 'NONE', lingerMs: 0 }],
      groups: [],
      leases: [],
      graceMs: 0,
    });
  }
  let next = 0;
  return () => oneCycle(store, pools[next++ % POOLS]);
}

export async function runClusterBench(options: { durationMs?: number; slices?: number; concurrencies?: number[] } = {}): Promise<ClusterBenchRow[]> {
  const durationMs = options.durationMs ?? 3000;
  const slices = options.slices ?? 10;
  const [one, cluster] = await Promise.all([startPrivateRedis(), startPrivateCluster(3)]);
  const single = new Redis(one.url, { enableAutoPipelining: true });
  const clustered = new Cluster(
    cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    { enableAutoPipelining: true },
  );
  try {
    const cycles = { single: await storeCycle(single), cluster: await storeCycle(clustered) };
    const names = Object.keys(cycles) as (keyof typeof cycles)[];
    const rows: ClusterBenchRow[] = [];
    for (const clients of options.concurrencies ?? [16, 128]) {
      const rates: Record<keyof typeof cycles, number[]> = { single: [], cluster: [] };
      for (const name of names) await measure(cycles[name], clients, 300);
      for (let slice = 0; slice < slices; slice++) {
        for (let i = 0; i < names.length; i++) {
          const name = names[(slice + i) % names.length];
          rates[name].push(await measure(cycles[name], clients, durationMs / slices));
        }
      }
      rows.push({
        clients,
        single: median(rates.single),
        cluster: median(rates.cluster),
        clusterVsSingle: median(
          rates.cluster.map((rate, turn) => rate / rates.single[turn]),
          2,
        ),
      });
    }
    return rows;
  } finally {
    single.disconnect();
    clustered.disconnect();
    await Promise.all([one.server.stop(), cluster.stop()]);
  }
}

export function formatClusterTable(rows: ClusterBenchRow[]): string {
  return [
    'clients | one Redis cycles/s | cluster of 3 primaries cycles/s | cluster ÷ one',
    '---|---|---|---',
    ...rows.map((r) => `${r.clients} | ${r.single} | ${r.cluster} | ${r.clusterVsSingle.toFixed(2)}`),
  ].join('\n');
}

if (require.main === module) {
  runClusterBench()
    .then((rows) => console.log(formatClusterTable(rows)))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
