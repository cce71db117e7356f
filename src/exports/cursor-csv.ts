import type { FieldDef, PoolClient, QueryArrayConfig, QueryArrayResult } from 'pg';
import { CsvKind, csvLine, csvRecordWriter } from './csv';

/** Rows per FETCH: a few hundred kB of CSV, so memory stays flat whatever the window holds. */
const BATCH_ROWS = 2000;
const CURSOR = 'export_rows';
// Every value reaches the CSV as PostgreSQL's text: no parsing into numbers or dates and back.
const AS_TEXT = { getTypeParser: () => (value: string) => value } as unknown as QueryArrayConfig['types'];

/** One CSV file: its header and column kinds, and a query run once per segment, in order. */
export interface CursorCsv {
  client: PoolClient;
  columns: readonly string[];
  kinds: readonly CsvKind[];
  sql: string;
  /** The parameters of each run of `sql`; the file is their rows one after the other. */
  segments: readonly unknown[][];
}

/** Declares the cursor over one segment (in the caller's transaction). */
export async function declareCursor(client: PoolClient, sql: string, params: readonly unknown[]): Promise<void> {
  await client.query(`DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${sql}`, params as unknown[]);
}

/**
 * The file as CSV chunks, one per FETCH, the header first. The first segment's cursor must
 * already be declared (so that a fault in it is an error answer, not a cut download); the
 * others are declared as the file reaches them. While a batch is formatted and handed on,
 * the next FETCH is already running: PostgreSQL and this process work at the same time, and
 * at most two batches are held. The consumer pulls, so nothing is fetched past what the
 * socket has taken plus those two.
 */
export async function* cursorCsvChunks(csv: CursorCsv): AsyncGenerator<string> {
  const record = csvRecordWriter(csv.kinds);
  yield csvLine(csv.columns);
  for (let i = 0; i < csv.segments.length; i++) {
    if (i > 0) await declareCursor(csv.client, csv.sql, csv.segments[i]);
    let next: Promise<QueryArrayResult<(string | null)[]>> | undefined = fetchBatch(csv.client);
    try {
      while (next) {
        const batch: QueryArrayResult<(string | null)[]> = await next;
        next = batch.rows.length === BATCH_ROWS ? fetchBatch(csv.client) : undefined;
        if (batch.rows.length === 0) break;
        requireColumns(batch.fields, csv.columns);
        let chunk = '';
        for (const row of batch.rows) chunk += record(row);
        yield chunk;
      }
    } finally {
      // Left early (the client went away, or a fault): the FETCH already sent still has to
      // finish before the connection can roll back. Its answer, or its own error, no longer
      // matters: the caller is ending the export either way.
      if (next) await next.then(noop, noop);
    }
    await csv.client.query(`CLOSE ${CURSOR}`);
  }
}

function fetchBatch(client: PoolClient): Promise<QueryArrayResult<(string | null)[]>> {
  return client.query<(string | null)[]>({ text: `FETCH ${BATCH_ROWS} FROM ${CURSOR}`, rowMode: 'array', types: AS_TEXT });
}

function noop(): void {}

// The CSV header and the SELECT's column list are kept in the same order by hand: a
// mismatch would write values under the wrong header, so it fails the export instead.
function requireColumns(fields: readonly FieldDef[], columns: readonly string[]): void {
  if (fields.length !== columns.length || fields.some((f, i) => f.name !== columns[i])) {
    throw new Error(`Export columns ${fields.map((f) => f.name).join(',')} do not match the header ${columns.join(',')}`);
  }
}
