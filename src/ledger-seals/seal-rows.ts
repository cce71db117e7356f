import type { PoolClient, QueryArrayConfig, QueryArrayResult } from 'pg';
import { CANONICAL_LINE_SQL } from './canonical';

/** Rows per FETCH: memory stays flat however many rows a seal covers. */
const BATCH_ROWS = 2000;
// Every value as PostgreSQL's text: the encoding is made of it, never of parsed numbers or dates.
const AS_TEXT = { getTypeParser: () => (value: string) => value } as unknown as QueryArrayConfig['types'];

/**
 * The rows seal k covers, in (tx_id, id) order (the index's: no sort): each row's canonical line and its recorded_at (text): the organization's
 * rows whose writing transaction is visible in seal k's snapshot ($2) and was not in seal
 * k-1's ($3; absent for the first seal, which takes every row visible in its own). The
 * bounds on tx_id let the (organization_id, tx_id) index find them.
 */
export function sealRowsQuery(organizationId: string, snapshot: string, previousSnapshot: string | null): { sql: string; params: unknown[] } {
  const inThis = `e.organization_id = $1 AND e.tx_id < pg_snapshot_xmax($2::pg_snapshot) AND pg_visible_in_snapshot(e.tx_id, $2::pg_snapshot)`;
  if (previousSnapshot === null) {
    return {
      sql: `SELECT ${CANONICAL_LINE_SQL} AS line, e.recorded_at FROM ledger_entries e WHERE ${inThis} ORDER BY e.tx_id, e.id`,
      params: [organizationId, snapshot],
    };
  }
  return {
    sql: `SELECT ${CANONICAL_LINE_SQL} AS line, e.recorded_at FROM ledger_entries e
          WHERE ${inThis} AND e.tx_id >= pg_snapshot_xmin($3::pg_snapshot) AND NOT pg_visible_in_snapshot(e.tx_id, $3::pg_snapshot)
          ORDER BY e.tx_id, e.id`,
    params: [organizationId, snapshot, previousSnapshot],
  };
}

/** Runs `sql` through a cursor in the client's open transaction: its rows' values (text, in column order), a batch at a time, pulled. */
export async function* forEachRowBatch(client: PoolClient, cursor: string, query: { sql: string; params: unknown[] }): AsyncGenerator<(string | null)[][]> {
  await client.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${query.sql}`, query.params);
  try {
    for (;;) {
      const batch = await fetchBatch(client, cursor);
      if (batch.rows.length > 0) yield batch.rows;
      if (batch.rows.length < BATCH_ROWS) return;
    }
  } finally {
    await client.query(`CLOSE ${cursor}`);
  }
}

function fetchBatch(client: PoolClient, cursor: string): Promise<QueryArrayResult<(string | null)[]>> {
  return client.query<(string | null)[]>({ text: `FETCH ${BATCH_ROWS} FROM ${cursor}`, rowMode: 'array', types: AS_TEXT });
}

/**
 * Runs `sql` through a cursor in the client's open transaction and hands each row's values
 * (text, in column order) to `onRow`, BATCH_ROWS at a time; the next batch is fetched while
 * this one is handled.
 */
export async function forEachRow(
  client: PoolClient,
  cursor: string,
  query: { sql: string; params: unknown[] },
  onRow: (values: (string | null)[]) => void,
): Promise<void> {
  await client.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${query.sql}`, query.params);
  const fetch = () => fetchBatch(client, cursor);
  try {
    let next: Promise<QueryArrayResult<(string | null)[]>> | undefined = fetch();
    while (next) {
      const batch: QueryArrayResult<(string | null)[]> = await next;
      next = batch.rows.length === BATCH_ROWS ? fetch() : undefined;
      for (const row of batch.rows) onRow(row);
    }
  } finally {
    await client.query(`CLOSE ${cursor}`);
  }
}
