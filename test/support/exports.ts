import { once } from 'node:events';
import { createConnection, Socket } from 'node:net';
import type { DataSource } from 'typeorm';

/**
 * `rows` compute entries for `organizationId`, one every 50 ms from `from`, written straight
 * into the ledger: about 330 bytes of ledger.csv each, so 100,000 of them are a file far
 * larger than every socket buffer between the API and a client that stops reading.
 */
export async function bulkLedger(dataSource: DataSource, organizationId: string, rows: number, from: string): Promise<void> {
  await dataSource.query(
    `WITH ids AS (SELECT nextval('ledger_entries_id_seq') AS id, n FROM generate_series(1, $3::int) n),
          keys AS (INSERT INTO ledger_event_keys (organization_id, event_key, entry_id, occurred_at, content_hash)
                   SELECT $1, 'compute:bulk-' || n, id, $2::timestamptz + n * interval '50 milliseconds', 'bulk' FROM ids
                   RETURNING entry_id, event_key, occurred_at)
     INSERT INTO ledger_entries (id, organization_id, event_key, kind, meter, occurred_at, input_tokens, output_tokens, cost, currency, cost_source, provider, model)
     SELECT k.entry_id, $1, k.event_key, 'COMPUTE', 'COMPUTE', k.occurred_at, 1000, 200, 0.0125, o.currency, 'CALLER', 'openai', 'gpt-bulk'
     FROM keys k JOIN organizations o ON o.id = $1`,
    [organizationId, from, rows],
  );
}

/** A raw HTTP/1.1 client that reads the start of an answer and then stops reading. */
export interface StalledReader {
  status: number;
  /** What arrived before it stopped: the head and maybe the start of the body. */
  head: string;
  socket: Socket;
  /** Reads again, to the end of the connection; resolves with the bytes received and the last of them as text. */
  drain(): Promise<{ bytes: number; tail: string }>;
}

/** Sends GET `path` with `key` to the API on `port`, waits for the first bytes of the answer, then stops reading. */
export async function stalledGet(port: number, path: string, key: string): Promise<StalledReader> {
  const socket = createConnection({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n\r\n`);
  const first = await new Promise<Buffer>((resolve) =>
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      resolve(chunk);
    }),
  );
  const head = first.toString('latin1');
  let bytes = first.length;
  let tail = head;
  return {
    status: Number(head.slice(9, 12)),
    head,
    socket,
    drain: () =>
      new Promise((resolve) => {
        socket.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          tail = (tail + chunk.toString('latin1')).slice(-4096);
        });
        socket.once('close', () => resolve({ bytes, tail }));
        socket.resume();
      }),
  };
}

/** Backends of this run's database still inside an export (a cursor declared or read, in a transaction). */
export async function exportBackends(dataSource: DataSource): Promise<number> {
  const rows: { n: number }[] = await dataSource.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
     WHERE datname = current_database() AND state IN ('active', 'idle in transaction') AND (query LIKE 'FETCH % FROM export_rows' OR query LIKE 'DECLARE export_rows%')`,
  );
  return rows[0].n;
}
