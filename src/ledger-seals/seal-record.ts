/** A seal as stored (ledger_seals), times as Dates. */
export interface SealRecord {
  organizationId: string;
  sequence: number;
  rows: number;
  firstRecordedAt: Date | null;
  lastRecordedAt: Date | null;
  previousDigest: string;
  digest: string;
  snapshot: string;
  sealedAt: Date;
}

/** The ledger_seals columns sealFromRow reads. */
export const SEAL_COLUMNS_SQL = `organization_id, sequence, rows::int AS rows, first_recorded_at, last_recorded_at, previous_digest, digest,
                                 snapshot::text AS snapshot, sealed_at`;

export function sealFromRow(row: Record<string, unknown>): SealRecord {
  return {
    organizationId: row.organization_id as string,
    sequence: row.sequence as number,
    rows: Number(row.rows),
    firstRecordedAt: row.first_recorded_at as Date | null,
    lastRecordedAt: row.last_recorded_at as Date | null,
    previousDigest: row.previous_digest as string,
    digest: row.digest as string,
    snapshot: row.snapshot as string,
    sealedAt: row.sealed_at as Date,
  };
}
