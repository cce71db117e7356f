import type { FieldDef, PoolClient, QueryArrayConfig, QueryArrayResult } from 'pg';

/** Rows per FETCH: some hundred kB of CSV, so memory stays flat whatever the window holds. */
const BATCH_ROWS = 500;
/** Room for a batch of typical rows; a batch of longer rows grows it. */
const BATCH_BYTES = BATCH_ROWS * 1024;
const CURSOR = 'export_rows';
// Every value reaches the CSV as PostgreSQL's text: no parsing into numbers or dates and back.
const AS_TEXT = { getTypeParser: () => (value: string) => value } as unknown as QueryArrayConfig['types'];

export type CsvRow = readonly (string | null)[];

/** One run of the query: its parameters, and how its rows are written. */
export interface CursorSegment {
  params: readonly unknown[];
  writeRow: (row: CsvRow) => string;
}

/** One CSV file: its header line, then the rows of `sql` run once per segment, in order. */
export interface CursorCsv {
  client: PoolClient;
  header: string;
  sql: string;
  /** The names of the query's columns, in order: the writers read rows by position. */
  sqlColumns: readonly string[];
  segments: readonly CursorSegment[];
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
export async function* cursorCsvChunks(csv: CursorCsv): AsyncGenerator<Buffer> {
  yield Buffer.from(csv.header);
  let buffer = Buffer.allocUnsafe(BATCH_BYTES);
  for (let i = 0; i < csv.segments.length; i++) {
    const { params, writeRow } = csv.segments[i];
    if (i > 0) await declareCursor(csv.client, csv.sql, params);
    let next: Promise<QueryArrayResult<(string | null)[]>> | undefined = fetchBatch(csv.client);
    try {
      while (next) {
        const batch: QueryArrayResult<(string | null)[]> = await next;
        next = batch.rows.length === BATCH_ROWS ? fetchBatch(csv.client) : undefined;
        if (batch.rows.length === 0) break;
        requireColumns(batch.fields, csv.sqlColumns);
        // Each line goes straight into a byte buffer: one string per row, never one per batch.
        let length = 0;
        for (const row of batch.rows) {
          const line = writeRow(row);
          if (length + line.length * 3 > buffer.length) buffer = grow(buffer, length + line.length * 3);
          length += buffer.write(line, length);
        }
        yield Buffer.from(buffer.subarray(0, length));
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

function grow(buffer: Buffer, needed: number): Buffer {
  const larger = Buffer.allocUnsafe(Math.max(needed, buffer.length * 2));
  buffer.copy(larger);
  return larger;
}

function noop(): void {}

// The writers read rows by position, so the query's column list must be the one they
// expect: a mismatch would write values under the wrong header, so it fails the export.
function requireColumns(fields: readonly FieldDef[], columns: readonly string[]): void {
  if (fields.length !== columns.length || fields.some((f, i) => f.name !== columns[i])) {
    throw new Error(`Export query columns ${fields.map((f) => f.name).join(',')} are not the expected ${columns.join(',')}`);
  }
}
