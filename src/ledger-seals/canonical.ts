import { createHash, Hash } from 'node:crypto';

/**
 * The canonical encoding of a ledger row, which seals hash and the auditor's export prints
 * (docs/ledger-audit.md): one line of JSON, an object of the row's own columns of
 * ledger_entries under their column names, in exactly this order, each value a JSON string
 * or null. Numbers are PostgreSQL's text of the value (numerics keep their scale: "12.500");
 * timestamps are UTC, ISO 8601 with microseconds ("2026-12-07T09:15:00.123456Z"); ids are
 * lower-case UUIDs or decimal integers. tx_id (which seal covers the row) is not content and
 * is left out. JSON.stringify writes it with no spaces and escapes as ECMA-262 says.
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

const TIMESTAMPS = new Set<string>(['occurred_at', 'started_at', 'recorded_at']);

/** The SELECT list that reads a row's columns as the encoding's text, in CANONICAL_COLUMNS order (alias `e`). */
export const CANONICAL_SELECT = CANONICAL_COLUMNS.map((column) =>
  TIMESTAMPS.has(column) ? `to_char(e.${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${column}` : `e.${column}::text AS ${column}`,
).join(', ');

/** The previous digest of an organization's first seal. */
export const ZERO_DIGEST = '0'.repeat(64);

/** One row's line (no newline), from its values in CANONICAL_COLUMNS order as PostgreSQL's text. */
export function canonicalLine(values: readonly (string | null)[]): string {
  const row: Record<string, string | null> = {};
  CANONICAL_COLUMNS.forEach((column, i) => (row[column] = values[i] ?? null));
  return JSON.stringify(row);
}

/**
 * A seal's digest, fed row by row: SHA-256 over the UTF-8 bytes of previousDigest (64 hex
 * characters) followed, for each covered row in id order, by a newline and its line.
 */
export class SealDigest {
  private readonly hash: Hash;
  rows = 0;

  constructor(previousDigest: string) {
    this.hash = createHash('sha256').update(previousDigest, 'utf8');
  }

  add(line: string): void {
    this.hash.update('\n', 'utf8');
    this.hash.update(line, 'utf8');
    this.rows += 1;
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}
