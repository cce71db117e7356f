import type { TokenpoolClient } from '@tokenpool/client';
import { flag, stringOption } from '../args';
import { CONNECTION_HELP, type Command, type CommandContext } from '../command';
import { ExitCode } from '../exit-codes';
import { plural, since, table, until } from '../format';
import { allLeases, findPool, resolvePool, toDate, type LeaseView, type PoolView } from '../resolve';

/**
 * `tokenpool status`: who holds what, where, since when; FlexNet's `lmstat -a` for a pool.
 * The JSON form carries exactly the same data, with field names that are part of the CLI's
 * contract (README.md), so scripts do not scrape the table.
 */

/** One active lease as `status` shows it. */
export interface LeaseStatus {
  id: string;
  /** The principal holding the lease (for a SERVICE's check-out on someone's behalf: that someone). */
  holder: string;
  host: string | null;
  credits: number;
  acquiredAt: string;
  expiresAt: string;
}

export interface AppStatus {
  key: string;
  name: string;
  /** Credits per check-out; null for a lease of an app the pool no longer lists. */
  cost: number | null;
  leases: LeaseStatus[];
}

export interface PoolStatus {
  id: string;
  name: string;
  cap: number;
  inUse: number;
  available: number;
  queueLength: number;
  activeLeases: number;
  apps: AppStatus[];
}

export interface StatusDocument {
  /** When the figures were read (ISO 8601, UTC). */
  generatedAt: string;
  pools: PoolStatus[];
}

/** Groups the active leases under their pool and app, oldest lease first (the longest holder is the first question). */
export function buildStatus(pools: readonly PoolView[], leases: readonly LeaseView[], now: Date): StatusDocument {
  return {
    generatedAt: now.toISOString(),
    pools: pools.map((pool) => {
      const apps: AppStatus[] = pool.apps.map((a) => ({ key: a.key, name: a.name, cost: a.cost, leases: [] }));
      for (const lease of leases.filter((l) => l.pool.id === pool.id && l.state === 'ACTIVE')) {
        let app = apps.find((a) => a.key === lease.app.key);
        if (!app) apps.push((app = { key: lease.app.key, name: lease.app.key, cost: null, leases: [] }));
        app.leases.push({
          id: lease.id,
          holder: lease.principal.name,
          host: lease.host ?? null,
          credits: lease.credits,
          acquiredAt: toDate(lease.acquiredAt).toISOString(),
          expiresAt: toDate(lease.expiresAt).toISOString(),
        });
      }
      for (const app of apps) app.leases.sort((a, b) => a.acquiredAt.localeCompare(b.acquiredAt));
      return {
        id: pool.id,
        name: pool.name,
        cap: pool.cap,
        inUse: pool.inUse,
        available: pool.available,
        queueLength: pool.queueLength,
        activeLeases: pool.activeLeases,
        apps,
      };
    }),
  };
}

/** The table a person reads: a header line per pool, then per app its cost and its leases. */
export function renderStatus(doc: StatusDocument, now: Date): string {
  if (doc.pools.length === 0) return 'No pools.';
  const blocks = doc.pools.map((pool) => {
    const lines = [
      `Pool ${pool.name}: cap ${pool.cap}, in use ${pool.inUse}, available ${pool.available}, queue ${pool.queueLength}, ` +
        `${plural(pool.activeLeases, 'active lease')}  [${pool.id}]`,
    ];
    if (pool.apps.length === 0) lines.push('  (no apps)');
    for (const app of pool.apps) {
      const cost = app.cost === null ? 'cost unknown' : `cost ${app.cost}`;
      lines.push('', `  ${app.key} (${app.name}): ${cost}, ${app.leases.length ? plural(app.leases.length, 'lease') : 'no leases'}`);
      if (app.leases.length === 0) continue;
      const rows = app.leases.map((l) => [
        l.holder,
        l.host ?? '-',
        String(l.credits),
        since(new Date(l.acquiredAt), now),
        until(new Date(l.expiresAt), now),
        l.id,
      ]);
      const columns = [
        { header: 'HOLDER' },
        { header: 'HOST' },
        { header: 'CREDITS', align: 'right' as const },
        { header: 'SINCE' },
        { header: 'EXPIRES' },
        { header: 'LEASE' },
      ];
      lines.push(table(columns, rows, '    '));
    }
    return lines.join('\n');
  });
  return blocks.join('\n\n');
}

/** One snapshot: the pools (one, with `poolRef`), then their active leases. */
async function readStatus(client: TokenpoolClient, poolRef: string | undefined): Promise<StatusDocument> {
  const pools: readonly PoolView[] = await client.pools();
  const pool = poolRef === undefined ? undefined : findPool(pools, poolRef, 'status');
  const leases = await allLeases(client, { poolId: pool?.id, state: 'ACTIVE' });
  return buildStatus(pool ? [pool] : pools, leases, new Date());
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'pools, apps and who holds which lease, where and since when (like lmstat -a)',
  help: `Usage: tokenpool status [--pool <id or name>] [--watch] [--json]

Shows each pool's cap, credits in use, available and queued check-outs, and for each app its
cost and its active leases: holder, host, credits, since (local time and age) and expiry.
A CLIENT key sees only its own leases; ADMIN and VIEWER keys see everyone's.

Options:
  --pool <id|name>   only this pool
  --watch            redraw on every change of a pool (Ctrl+C to stop)
  --json             one JSON document (with --watch: one per line, per change)

${CONNECTION_HELP}`,
  options: { pool: { type: 'string' }, watch: { type: 'boolean' }, json: { type: 'boolean' } },
  maxPositionals: 0,
  async run(parsed, context) {
    const poolRef = stringOption(parsed, 'pool');
    const json = flag(parsed, 'json');
    const client = context.client();
    const print = (doc: StatusDocument) => {
      if (json) context.io.stdout.write(`${JSON.stringify(doc, null, flag(parsed, 'watch') ? undefined : 2)}\n`);
      else context.io.stdout.write(`${renderStatus(doc, new Date(doc.generatedAt))}\n`);
    };
    if (!flag(parsed, 'watch')) {
      print(await readStatus(client, poolRef));
      return ExitCode.OK;
    }
    return watch(client, poolRef, context, json, print);
  },
};

/** How often `--watch` reads again without being told of a change (see watch()). */
export const WATCH_REFRESH_MS = 15_000;

/**
 * What a snapshot says, minus what moves on its own (the read time, expiries pushed on by
 * heartbeats): two snapshots with the same shape need not both be printed to a log.
 */
export function snapshotShape(doc: StatusDocument): string {
  return JSON.stringify(doc.pools.map((p) => ({ ...p, apps: p.apps.map((a) => ({ ...a, leases: a.leases.map((l) => ({ ...l, expiresAt: '' })) })) })));
}

/**
 * `--watch`: subscribe first, then draw, then redraw after each change (changes that arrive
 * while a redraw reads are folded into one more redraw, so a busy pool does not queue reads).
 * The screen is cleared only on a terminal, so `--watch > log` keeps every snapshot.
 *
 * The subscription does not replay changes made while its socket was down, so it reads again
 * each time the socket (re)connects; and every WATCH_REFRESH_MS, so that on a terminal the
 * ages move. Off a terminal a snapshot is printed only when its shape changed, so a log gets
 * no repeats.
 */
async function watch(
  client: TokenpoolClient,
  poolRef: string | undefined,
  context: CommandContext,
  json: boolean,
  print: (doc: StatusDocument) => void,
): Promise<number> {
  const tty = context.io.stdout.isTTY === true && !json;
  const pool = poolRef === undefined ? undefined : await resolvePool(client, poolRef, 'status');
  let reading = false;
  let again = false;
  let lastShape: string | undefined;
  let failure: unknown;
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));

  const redraw = async (): Promise<void> => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const doc = await readStatus(client, pool?.id);
        const shape = snapshotShape(doc);
        if (!tty && shape === lastShape) continue;
        lastShape = shape;
        if (tty) context.io.stdout.write('\x1b[2J\x1b[H');
        else if (!json) context.io.stdout.write(`--- ${doc.generatedAt}\n`);
        print(doc);
      } while (again);
    } catch (err) {
      failure = err;
      finish(-1);
    } finally {
      reading = false;
    }
  };

  const abort = new AbortController();
  const stop = client.watchPools(
    (changed: { id: string }) => {
      if (!pool || changed.id === pool.id) void redraw();
    },
    {
      signal: abort.signal,
      // Changes made while the socket was (re)connecting are not replayed: read them now.
      onConnected: () => void redraw(),
      // A subscription refused for good (a revoked key) ends the watch with that error's exit code.
      onError: (err) => {
        failure = err;
        finish(-1);
      },
    },
  );
  const onSignal = () => finish(ExitCode.OK);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const ticker = setInterval(() => void redraw(), WATCH_REFRESH_MS);
  await redraw();
  const code = await done;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  clearInterval(ticker);
  abort.abort();
  stop();
  if (code === -1) throw failure;
  return code;
}
