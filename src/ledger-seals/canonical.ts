import { createHash, Hash } from 'node:crypto';

/**
 * The canonical encoding of a ledger row, which seals hash and the auditor's export prints
 * (docs/ledger-audit.md): one line of JSON, an object of the row's own columns of
 * ledger_entries under their column names, in exactly this order, each value a JSON string
 * or null. Numbers are PostgreSQL's text of the value (numerics keep their scale: "12.500");
 * timestamps are PostgreSQL's ISO text in UTC with "T" and "Z" ("2026-12-07T09:15:00.1234Z":
 * the fraction as PostgreSQL prints it, trailing zeros dropped, none when zero); ids are
 * lower-case UUIDs or decimal integers; free text (event_key, provider, model) is escaped by
 * to_json. tx_id (which seal covers the row) is not content and is left out.
 */
export const CANONICAL_COLUMNS = [
  'id',
  'organization_id',
  'event_key',
  'kind',
  'meter',
  'work_unit_id',
  'principal_id',
  'occurred_at',
  'started_at',
  'recorded_at',
  'credit_seconds',
  'idle_credit_seconds',
  'input_tokens',
  'cached_input_tokens',
  'output_tokens',
  'reasoning_tokens',
  'credit_hour_price',
  'input_price_per_million',
  'cached_input_price_per_million',
  'output_price_per_million',
  'model_price_id',
  'cost',
  'currency',
  'cost_source',
  'lease_id',
  'draw_id',
  'pool_id',
  'app_id',
  'provider',
  'model',
  'corrects_entry_id',
] as const;

// Values that are the user's free text are JSON-escaped by PostgreSQL's to_json; every other
// column holds only digits, letters, '-', '.', ':' (ids, numbers, codes, timestamps).
const FREE_TEXT = new Set<string>(['event_key', 'provider', 'model']);
const TIMESTAMPS = new Set<string>(['occurred_at', 'started_at', 'recorded_at']);

function valueSql(column: string): string {
  if (FREE_TEXT.has(column)) return `coalesce(to_json(e.${column})::text, 'null')`;
  // The timestamptz text at TimeZone UTC and DateStyle ISO: "2026-12-07 09:15:00.1234+00".
  if (TIMESTAMPS.has(column)) return `coalesce('"' || replace(replace(e.${column}::text, ' ', 'T'), '+00', 'Z') || '"', 'null')`;
  return `coalesce('"' || e.${column}::text || '"', 'null')`;
}

/**
 * The canonical line of a ledger row (alias `e`) as one SQL text expression: PostgreSQL
 * writes it, so the seal, verifyLedger and the export produce the very same bytes, and the
 * row crosses the wire as one value. Run it in a transaction that ran CANONICAL_SESSION_SQL.
 */
export const CANONICAL_LINE_SQL = CANONICAL_COLUMNS.map((column, i) => `'${i === 0 ? '{' : ','}"${column}":' || ${valueSql(column)}`).join(' || ') + ` || '}'`;

/** The settings the canonical line's text depends on, for the current transaction (one statement). */
export const CANONICAL_SESSION_SQL = `SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true)`;

/** The previous digest of an organization's first seal. */
export const ZERO_DIGEST = '0'.repeat(64);

/**
 * A seal's digest, fed row by row: SHA-256 over the UTF-8 bytes of previousDigest (64 hex
 * characters) followed, for each covered row in (tx_id, id) order, by a newline and its line.
 */
export class SealDigest {
  private readonly hash: Hash;
  rows = 0;

  constructor(previousDigest: string) {
    this.hash = createHash('sha256').update(previousDigest, 'utf8');
  }

  add(line: string): void {
    this.hash.update(`\n${line}`, 'utf8');
    this.rows += 1;
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}
