import { flag, stringOption } from '../args';
import { CONNECTION_HELP, type Command } from '../command';
import { ExitCode } from '../exit-codes';
import { since, table, until } from '../format';
import { allLeases, resolvePool, toDate, type LeaseView } from '../resolve';

/**
 * `tokenpool leases`: the active leases as one flat table, with their ids, for the admin who
 * is about to revoke one (`status` groups them by app instead and leaves the ids at the end).
 */

/** One active lease as `leases --json` prints it. */
export interface LeaseRow {
  id: string;
  pool: { id: string; name: string };
  app: string;
  holder: string;
  host: string | null;
  credits: number;
  acquiredAt: string;
  expiresAt: string;
}

export function leaseRows(leases: readonly LeaseView[]): LeaseRow[] {
  return leases
    .map((l) => ({
      id: l.id,
      pool: { id: l.pool.id, name: l.pool.name },
      app: l.app.key,
      holder: l.principal.name,
      host: l.host ?? null,
      credits: l.credits,
      acquiredAt: toDate(l.acquiredAt).toISOString(),
      expiresAt: toDate(l.expiresAt).toISOString(),
    }))
    .sort((a, b) => a.acquiredAt.localeCompare(b.acquiredAt));
}

export function renderLeases(rows: readonly LeaseRow[], now: Date): string {
  if (rows.length === 0) return 'No active leases.';
  return table(
    [
      { header: 'LEASE' },
      { header: 'POOL' },
      { header: 'APP' },
      { header: 'HOLDER' },
      { header: 'HOST' },
      { header: 'CREDITS', align: 'right' },
      { header: 'SINCE' },
      { header: 'EXPIRES' },
    ],
    rows.map((r) => [
      r.id,
      r.pool.name,
      r.app,
      r.holder,
      r.host ?? '-',
      String(r.credits),
      since(new Date(r.acquiredAt), now),
      until(new Date(r.expiresAt), now),
    ]),
  );
}

export const leasesCommand: Command = {
  name: 'leases',
  summary: 'the active leases, one per line, with their ids',
  help: `Usage: tokenpool leases [--pool <id or name>] [--json]

Lists the active leases, oldest first: id, pool, app, holder, host, credits, since and expiry.
A CLIENT key sees only its own leases; ADMIN and VIEWER keys see everyone's.

Options:
  --pool <id|name>   only this pool
  --json             a JSON array instead of the table

${CONNECTION_HELP}`,
  options: { pool: { type: 'string' }, json: { type: 'boolean' } },
  maxPositionals: 0,
  async run(parsed, context) {
    const client = context.client();
    const poolRef = stringOption(parsed, 'pool');
    const pool = poolRef === undefined ? undefined : await resolvePool(client, poolRef, 'leases');
    const rows = leaseRows(await allLeases(client, { poolId: pool?.id, state: 'ACTIVE' }));
    context.io.stdout.write(flag(parsed, 'json') ? `${JSON.stringify(rows, null, 2)}\n` : `${renderLeases(rows, new Date())}\n`);
    return ExitCode.OK;
  },
};
