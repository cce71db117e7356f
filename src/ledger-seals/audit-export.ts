import type { PoolClient } from 'pg';
import { AppError } from '../common/errors/app-error';
import { CANONICAL_SESSION_SQL } from './canonical';
import { forEachRowBatch, sealRowsQuery } from './seal-rows';
import { SEAL_COLUMNS_SQL, SealRecord, sealFromRow } from './seal-record';

/** fromSequence and toSequence as they come from the query string, unchecked. */
export interface AuditQuery {
  fromSequence: unknown;
  toSequence: unknown;
}

/** The seal line of the audit export: what an auditor needs to recompute the digest, and the seal's facts. */
export function sealLine(seal: SealRecord): string {
  return JSON.stringify({
    seal: seal.sequence,
    rows: seal.rows,
    previousDigest: seal.previousDigest,
    digest: seal.digest,
    firstRecordedAt: seal.firstRecordedAt?.toISOString() ?? null,
    lastRecordedAt: seal.lastRecordedAt?.toISOString() ?? null,
    sealedAt: seal.sealedAt.toISOString(),
  });
}

/** The requested range, checked: whole sequences, 1 or more, from <= to. */
export function auditRange(query: AuditQuery): { from: number; to: number | null } {
  const parse = (value: unknown, field: string): number | null => {
    if (value === undefined || value === '') return null;
    if (typeof value !== 'string' || !/^\d{1,9}$/.test(value) || Number(value) < 1) {
      throw AppError.badInput(field, `${field} must be a seal sequence: a whole number, 1 or more`);
    }
    return Number(value);
  };
  const from = parse(query.fromSequence, 'fromSequence') ?? 1;
  const to = parse(query.toSequence, 'toSequence');
  if (to !== null && to < from) throw AppError.badInput('toSequence', 'toSequence must be at least fromSequence');
  return { from, to };
}

/** The seals of the range and the one before it (whose snapshot the first one's rows start after), in sequence order. */
export async function auditSeals(client: PoolClient, organizationId: string, range: { from: number; to: number | null }): Promise<SealRecord[]> {
  // The rows' timestamps are read as text in UTC (canonicalLine).
  await client.query(CANONICAL_SESSION_SQL);
  const { rows } = await client.query<Record<string, unknown>>(
    `SELECT ${SEAL_COLUMNS_SQL} FROM ledger_seals WHERE organization_id = $1 AND sequence >= $2 AND ($3::int IS NULL OR sequence <= $3) ORDER BY sequence`,
    [organizationId, range.from - 1, range.to],
  );
  return rows.map(sealFromRow);
}

/**
 * The export (docs/ledger-audit.md): each seal's line, then the canonical line of every row it
 * covers, in (tx_id, id) order; one chunk per batch of rows. `seals` starts with the seal before the
 * range when the range does not start at 1 (it is not printed).
 */
export async function* auditChunks(client: PoolClient, organizationId: string, seals: SealRecord[], from: number): AsyncGenerator<Buffer> {
  let previous: SealRecord | null = null;
  for (const seal of seals) {
    if (seal.sequence < from) {
      previous = seal;
      continue;
    }
    yield Buffer.from(`${sealLine(seal)}\n`);
    for await (const batch of forEachRowBatch(client, 'audit_rows', sealRowsQuery(organizationId, seal.snapshot, previous?.snapshot ?? null))) {
      yield Buffer.from(batch.map(([line]) => `${line}\n`).join(''));
    }
    previous = seal;
  }
}
