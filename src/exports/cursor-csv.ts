import type { FieldDef, PoolClient, QueryArrayConfig, QueryArrayResult } from 'pg';

/** Rows per FETCH: a few hundred kB of CSV, so memory stays flat whatever the window holds. */
const BATCH_ROWS = 1000;
/** Room for a batch of typical rows; a batch of longer rows grows it. */
const BATCH_BYTES = BATCH_ROWS * 1024;
const CURSOR = 'export_rows';
// Every value reaches the CSV as PostgreSQL's text: no parsing into numbers or dates and back.
const AS_TEXT = { getTypeParser: () => (value: string) => value } as unknown as QueryArrayConfig['types'];

export type CsvRow = readonly (string | null)[];
type Batch = QueryArrayResult<(string | null)[]>;

/** One run of the query: its parameters, and how its rows are written. */
export interface CursorSegment {
  params: readonly unknown[];
  writeRow: (row: CsvRow) => string;
}

/** One CSV file: its header line, then the rows of `sql` run once per segment, in order. */
export interface CursorCsv {
  /**
   * Connections in transactions that share one snapshot; segment i runs on
   * clients[i % clients.length]. With two, the next segment is computed on one while the
   * current one is written from the other.
   */
  clients: readonly PoolClient[];
  header: string;
  sql: string;
  /** The names of the query's columns, in order: the writers read rows by position. */
  sqlColumns: readonly string[];
  segments: readonly CursorSegment[];
}

/** Declares the cursor over one segment (in the client's transaction). */
export async function declareCursor(client: PoolClient, sql: string, params: readonly unknown[]): Promise<void> {
  await client.query(`DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${sql}`, params as unknown[]);
}

/**
 * The file as CSV chunks, one per FETCH, the header first. The first segment's cursor must
 * already be declared (so that a fault in it is an error answer, not a cut download); the
 * others are declared as the file reaches them, or one ahead on the other connection.
 * While a batch is formatted and handed on, the next FETCH is already running, so
 * PostgreSQL and this process work at the same time and at most two batches per
 * connection are held. The consumer pulls, so nothing is fetched past what the socket has
 * taken plus those.
 */
export async function* cursorCsvChunks(csv: CursorCsv): AsyncGenerator<Buffer> {
  const { clients, segments } = csv;
  const running = new Set<Promise<unknown>>();
  // Remembered until settled, so that an early exit waits for every query already sent;
  // marked handled at once, so a failure surfaces where it is awaited, not as unhandled.
  const track = <T>(query: Promise<T>): Promise<T> => {
    running.add(query);
    query.then(
      () => running.delete(query),
      () => running.delete(query),
    );
    return query;
  };
  const open = (i: number) =>
    track(declareCursor(clients[i % clients.length], csv.sql, segments[i].params).then(() => fetchBatch(clients[i % clients.length])));
  let buffer = Buffer.allocUnsafe(BATCH_BYTES);
  try {
    yield Buffer.from(csv.header);
    let first: Promise<Batch> | undefined = track(fetchBatch(clients[0]));
    for (let i = 0; first; i++) {
      const client = clients[i % clients.length];
      const ahead = clients.length > 1 && i + 1 < segments.length ? open(i + 1) : undefined;
      for (let next: Promise<Batch> | undefined = first; next;) {
        const batch: Batch = await next;
        next = batch.rows.length === BATCH_ROWS ? track(fetchBatch(client)) : undefined;
        if (batch.rows.length === 0) break;
        requireColumns(batch.fields, csv.sqlColumns);
        // Each line goes straight into a byte buffer: one string per row, never one per batch.
        let length = 0;
        for (const row of batch.rows) {
          const line = segments[i].writeRow(row);
          if (length + line.length * 3 > buffer.length) buffer = grow(buffer, length + line.length * 3);
          length += buffer.write(line, length);
        }
        yield Buffer.from(buffer.subarray(0, length));
      }
      await track(client.query(`CLOSE ${CURSOR}`));
      first = ahead ?? (i + 1 < segments.length ? open(i + 1) : undefined);
    }
  } finally {
    // Left early (the client went away, or a fault): queries already sent still have to
    // finish before the connections can roll back. Their answers, or their own errors, no
    // longer matter: the caller is ending the export either way.
    await Promise.all([...running].map((query) => query.then(noop, noop)));
  }
}

function fetchBatch(client: PoolClient): Promise<Batch> {
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
