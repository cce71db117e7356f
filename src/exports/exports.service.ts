import { Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { PoolClient } from 'pg';
import { DataSource, QueryRunner } from 'typeorm';
import type { AuthContext } from '../auth/auth-context';
import { AppError } from '../common/errors/app-error';
import { requireWindow } from '../common/validation/validate';
import { APP_CONFIG, AppConfig } from '../config/env';
import { csvLine, csvRecordWriter } from './csv';
import { CursorSegment, cursorCsvChunks, declareCursor } from './cursor-csv';
import { ExportSlot, ExportSlotsService } from './export-slots.service';
import { FOCUS_SQL, LEDGER_COLUMNS, LEDGER_KINDS, LEDGER_SQL, LEDGER_SQL_COLUMNS } from './export-queries';
import { FOCUS_COLUMNS, FOCUS_SQL_COLUMNS, FocusAccount, focusRowWriter } from './focus-row';
import { untilIdle } from './idle-watch';
import { focusPeriods, utcDays } from './utc-days';
import { auditChunks, AuditQuery, auditRange, auditSeals } from '../ledger-seals/audit-export';

/** A year and a bit, like the reports, so year-on-year fits in one file. */
export const EXPORT_MAX_DAYS = 400;
/**
 * Each export holds one or two of the process's 20 pool connections for its whole length:
 * past this many in one process, callers retry, whatever their organizations' slots, so
 * exports never take more than 8 and the API's own queries keep the rest.
 */
export const EXPORTS_PER_PROCESS = 4;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export interface ExportWindow {
  from: Date;
  to: Date;
}

/** `from` and `to` as they come from the query string, unchecked. */
export interface ExportQuery {
  from: unknown;
  to: unknown;
}

export interface CsvExport {
  filename: string;
  body: Readable;
}

interface ExportShape {
  name: string;
  columns: readonly string[];
  sql: string;
  sqlColumns: readonly string[];
  /** Connections for a file of several segments: two compute one segment while the other streams. */
  connections: 1 | 2;
  /** The runs of `sql`, in file order, for this organization (`account`) and window. */
  segments(account: FocusAccount, window: ExportWindow): CursorSegment[];
}

const LEDGER: ExportShape = {
  name: 'ledger',
  columns: LEDGER_COLUMNS,
  sql: LEDGER_SQL,
  sqlColumns: LEDGER_SQL_COLUMNS,
  connections: 1,
  segments: (account, window) => [{ params: [account.id, window.from, window.to], writeRow: csvRecordWriter(LEDGER_KINDS) }],
};

// One run per UTC day (see FOCUS_SQL). A day's grouping and sort finish before its first
// row: on a second connection the next day is computed while this one is written.
const FOCUS: ExportShape = {
  name: 'focus',
  columns: FOCUS_COLUMNS,
  sql: FOCUS_SQL,
  sqlColumns: FOCUS_SQL_COLUMNS,
  connections: 2,
  segments: (account, window) =>
    utcDays(window.from, window.to).map((day) => ({
      params: [account.id, day.from, day.to, window.to],
      writeRow: focusRowWriter(account, focusPeriods(day.from)),
    })),
};

/**
 * Streams CSV exports of the ledger straight from server-side cursors: each export gets
 * dedicated connections holding read-only REPEATABLE READ transactions on one snapshot (a
 * second connection imports the first one's), so the whole file sees one state of the
 * ledger, and fetches the next batch only when the response has taken the last one
 * (Readable.from pulls on demand), so memory does not grow with the window.
 */
@Injectable()
export class ExportsService {
  private readonly logger = new Logger('Exports');
  private running = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly slots: ExportSlotsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** One row per ledger entry of the caller's organization in [from, to), oldest first. */
  async ledgerCsv(auth: AuthContext, query: ExportQuery): Promise<CsvExport> {
    return this.open(LEDGER, auth, query);
  }

  /** FOCUS 1.2 rows: one per UTC day, work unit, and model or app (see export-queries.ts). */
  async focusCsv(auth: AuthContext, query: ExportQuery): Promise<CsvExport> {
    return this.open(FOCUS, auth, query);
  }

  // The first cursor is declared before the stream is returned, so a database fault is
  // still an ordinary error response; after the first byte the only way to report one is to
  // cut the connection, which a CSV reader sees as a truncated download.
  private async open(shape: ExportShape, auth: AuthContext, query: ExportQuery): Promise<CsvExport> {
    const window = exportWindow(query);
    const slot = await this.takeSlot(auth.organizationId);
    const runners: QueryRunner[] = [];
    let closing: Promise<void> | undefined;
    const finish = () => (closing ??= this.close(runners, slot));
    let clients: PoolClient[];
    let segments: CursorSegment[];
    try {
      clients = [await this.begin(runners)];
      const [account]: FocusAccount[] = await runners[0].query('SELECT id, name, currency FROM organizations WHERE id = $1', [auth.organizationId]);
      segments = shape.segments(account, window);
      if (shape.connections === 2 && segments.length > 1) {
        const [{ snapshot }]: { snapshot: string }[] = await runners[0].query('SELECT pg_export_snapshot() AS snapshot');
        clients.push(await this.begin(runners, snapshot));
      }
      await declareCursor(clients[0], shape.sql, segments[0].params);
    } catch (err) {
      await finish();
      throw err;
    }
    const chunks = cursorCsvChunks({ clients, header: csvLine(shape.columns), sql: shape.sql, sqlColumns: shape.sqlColumns, segments });
    return { filename: filename(shape.name, window), body: this.body(auth.organizationId, chunks, finish) };
  }

  /**
   * The auditor's export (docs/ledger-audit.md): each seal of fromSequence..toSequence (default
   * all), then the rows it covers in the canonical encoding its digest was computed over, as
   * JSON lines, from one snapshot. Only sealed rows: what was recorded since the last seal
   * is in the next one.
   */
  async ledgerAudit(auth: AuthContext, query: AuditQuery): Promise<CsvExport> {
    const range = auditRange(query);
    const slot = await this.takeSlot(auth.organizationId);
    const runners: QueryRunner[] = [];
    let closing: Promise<void> | undefined;
    const finish = () => (closing ??= this.close(runners, slot));
    let client: PoolClient;
    let seals: Awaited<ReturnType<typeof auditSeals>>;
    try {
      client = await this.begin(runners);
      seals = await auditSeals(client, auth.organizationId, range);
    } catch (err) {
      await finish();
      throw err;
    }
    const name = `ledger-audit-${range.from}-${range.to ?? 'latest'}.jsonl`;
    return { filename: name, body: this.body(auth.organizationId, auditChunks(client, auth.organizationId, seals, range.from), finish) };
  }

  /** The response body over `chunks`: pulled on demand, cut off when its reader stalls, `finish` run however it ends. */
  private body(organizationId: string, chunks: AsyncGenerator<Buffer>, finish: () => Promise<void>): Readable {
    const idleSeconds = this.config.exportIdleTimeoutSeconds;
    // A reader that stops reading would keep the transaction, its connections and the slot:
    // it is cut off. Destroyed with an error, the stream makes Fastify destroy the socket.
    const stalled = () => {
      this.logger.warn(`An export of organization ${organizationId} was aborted: its reader took nothing for ${idleSeconds} s`);
      body.destroy(new Error(`The reader took nothing for ${idleSeconds} s`));
    };
    // Byte mode with a small high-water mark: at most about one batch waits in memory.
    const body = Readable.from(finishing(untilIdle(chunks, idleSeconds * 1000, stalled), finish), { objectMode: false, highWaterMark: 64 * 1024 });
    // A stream destroyed before its first read never enters the generator, so its finally
    // would not run: 'close' covers that case (finish is idempotent).
    body.once('close', () => void finish());
    return body;
  }

  /** One of this process's export places, then one of the organization's slots (across every process). */
  private async takeSlot(organizationId: string): Promise<ExportSlot> {
    if (this.running >= EXPORTS_PER_PROCESS) {
      throw new AppError('RATE_LIMITED', `This server runs ${EXPORTS_PER_PROCESS} exports already, the most it runs at once; retry shortly`, {
        retryAfterSeconds: 5,
      });
    }
    this.running++;
    try {
      return await this.slots.claim(organizationId);
    } catch (err) {
      this.running--;
      throw err;
    }
  }

  /** A pooled connection in a read-only REPEATABLE READ transaction, on `snapshot` when given. */
  private async begin(runners: QueryRunner[], snapshot?: string): Promise<PoolClient> {
    const runner = this.dataSource.createQueryRunner();
    runners.push(runner);
    const client = (await runner.connect()) as PoolClient;
    await runner.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // SET TRANSACTION takes no parameters; the id is PostgreSQL's own (hex and dashes).
    if (snapshot !== undefined) {
      if (!/^[0-9A-F-]+$/i.test(snapshot)) throw new Error(`Unexpected snapshot id ${snapshot}`);
      await runner.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
    }
    // A FOCUS day groups and sorts some tens of thousands of rows: in memory, not on disk.
    await runner.query(`SET LOCAL work_mem = '64MB'`);
    return client;
  }

  // The connections go back first: the process's places count the connections exports hold.
  private async close(runners: QueryRunner[], slot: ExportSlot): Promise<void> {
    try {
      await Promise.all(runners.map((runner) => this.release(runner)));
    } finally {
      this.running--;
      await slot.release();
    }
  }

  private async release(runner: QueryRunner): Promise<void> {
    try {
      await runner.query('ROLLBACK');
      await runner.release();
    } catch (err) {
      // Released with the error, pg-pool discards the connection instead of handing out one
      // that may still sit inside the export's transaction.
      this.logger.warn({ err }, 'Could not end an export transaction; the connection is dropped');
      await (runner as QueryRunner & { releasePostgresConnection(err: unknown): Promise<void> }).releasePostgresConnection(err);
    }
  }
}

// The finally block runs when the file is complete, on an error, and when the response
// destroys the stream because the client went away: the connection always goes back.
async function* finishing(chunks: AsyncGenerator<Buffer>, finish: () => Promise<void>): AsyncGenerator<Buffer> {
  try {
    yield* chunks;
  } finally {
    await finish();
  }
}

function exportWindow(query: ExportQuery): ExportWindow {
  const window = { from: parseDate(query.from, 'from'), to: parseDate(query.to, 'to') };
  requireWindow(window.from, window.to, { maxDays: EXPORT_MAX_DAYS });
  return window;
}

function filename(name: string, window: ExportWindow): string {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  return `${name}-${day(window.from)}-${day(window.to)}.csv`;
}

function parseDate(value: unknown, field: string): Date {
  if (typeof value !== 'string' || !ISO_DATE.test(value))
    throw AppError.badInput(field, `${field} must be an ISO 8601 date or date-time, e.g. 2026-01-01T00:00:00Z`);
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw AppError.badInput(field, `${field} is not a valid date`);
  return date;
}
