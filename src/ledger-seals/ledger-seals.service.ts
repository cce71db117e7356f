import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import { DataSource, QueryRunner } from 'typeorm';
import { AppError } from '../common/errors/app-error';
import { CANONICAL_SESSION_SQL, SealDigest, ZERO_DIGEST } from './canonical';
import { SEAL_COLUMNS_SQL, SealRecord, sealFromRow } from './seal-record';
import { forEachRow, sealRowsQuery } from './seal-rows';

export type VerificationReason = 'DIGEST_MISMATCH' | 'CHAIN_BROKEN' | 'ROWS_MISSING' | 'ROWS_ADDED';

export interface Verification {
  ok: boolean;
  sealsChecked: number;
  rowsChecked: number;
  firstBrokenSeal: number | null;
  reason: VerificationReason | null;
}

// Serializes the sealing of one organization across processes (any class other than the others').
const SEAL_LOCK_CLASS = 7_248;
const MAX_PAGE = 500;

/**
 * Seals each organization's ledger and checks its seals (docs/ledger-audit.md).
 *
 * A seal covers every row recorded since the previous one, by PostgreSQL's visibility: it is
 * made in a REPEATABLE READ transaction and records that transaction's snapshot, and covers
 * the rows visible in it but not in the previous seal's snapshot. A row whose transaction
 * commits while a seal is made is not visible to that seal, and is to the next: no row falls
 * between two seals, with no lock on the writers. Sealers of one organization take turns
 * (a session advisory lock taken before the transaction starts, so its snapshot sees the
 * seal made before it).
 */
@Injectable()
export class LedgerSealsService {
  private readonly logger = new Logger(LedgerSealsService.name);

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Seals what the organization recorded since its last seal; null when there was nothing. */
  async seal(organizationId: string): Promise<SealRecord | null> {
    const runner = this.dataSource.createQueryRunner();
    const client = (await runner.connect()) as PoolClient;
    try {
      await runner.query('SELECT pg_advisory_lock($1, hashtext($2))', [SEAL_LOCK_CLASS, organizationId]);
      try {
        return await this.sealLocked(runner, client, organizationId);
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1, hashtext($2))', [SEAL_LOCK_CLASS, organizationId]);
      }
    } finally {
      await runner.release();
    }
  }

  private async sealLocked(runner: QueryRunner, client: PoolClient, organizationId: string): Promise<SealRecord | null> {
    await runner.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    try {
      // The first statement takes the transaction's snapshot: the one this seal records.
      const [{ snapshot }]: { snapshot: string }[] = await runner.query('SELECT pg_current_snapshot()::text AS snapshot');
      await runner.query(CANONICAL_SESSION_SQL);
      const previous = await this.latest(runner, organizationId);
      const digest = new SealDigest(previous?.digest ?? ZERO_DIGEST);
      let first: string | null = null;
      let last: string | null = null;
      await forEachRow(client, 'seal_rows', sealRowsQuery(organizationId, snapshot, previous?.snapshot ?? null), ([line, recordedAt]) => {
        digest.add(line!);
        // PostgreSQL's ISO text at UTC sorts as it reads (a shorter fraction sorts first, as it should).
        if (first === null || recordedAt! < first) first = recordedAt;
        if (last === null || recordedAt! > last) last = recordedAt;
      });
      if (digest.rows === 0) {
        await runner.query('ROLLBACK');
        return null;
      }
      const [row]: Record<string, unknown>[] = await runner.query(
        `INSERT INTO ledger_seals (organization_id, sequence, rows, first_recorded_at, last_recorded_at, previous_digest, digest, snapshot)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::pg_snapshot) RETURNING ${SEAL_COLUMNS_SQL}`,
        [organizationId, (previous?.sequence ?? 0) + 1, digest.rows, first, last, previous?.digest ?? ZERO_DIGEST, digest.hex(), snapshot],
      );
      await runner.query('COMMIT');
      return sealFromRow(row);
    } catch (err) {
      await runner.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** Seals every organization (or these) that recorded something since its last seal; returns how many seals were made. */
  async sealAll(options: { organizationIds?: string[] } = {}): Promise<number> {
    const organizations: { organization_id: string }[] = await this.dataSource.query(
      `SELECT o.id AS organization_id FROM organizations o
       WHERE ($1::uuid[] IS NULL OR o.id = ANY($1::uuid[])) AND EXISTS (SELECT 1 FROM ledger_entries e WHERE e.organization_id = o.id
                     AND e.tx_id >= coalesce((SELECT pg_snapshot_xmin(s.snapshot) FROM ledger_seals s WHERE s.organization_id = o.id
                                               ORDER BY s.sequence DESC LIMIT 1), '1'::xid8))
       ORDER BY o.id`,
      [options.organizationIds ?? null],
    );
    let sealed = 0;
    for (const { organization_id: organizationId } of organizations) {
      try {
        if (await this.seal(organizationId)) sealed += 1;
      } catch (err) {
        this.logger.error(`Sealing the ledger of organization ${organizationId} failed: ${(err as Error).message}`);
      }
    }
    return sealed;
  }

  /** The organization's seals, newest first; `after` = a sequence (the page continues below it). */
  async list(organizationId: string, page: { first?: number | null; after?: number | null }): Promise<SealRecord[]> {
    const first = page.first ?? 50;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw AppError.badInput('first', `first must be 1 to ${MAX_PAGE}`);
    if (page.after != null && (!Number.isInteger(page.after) || page.after < 1)) throw AppError.badInput('after', 'after must be a seal sequence (1 or more)');
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT ${SEAL_COLUMNS_SQL} FROM ledger_seals WHERE organization_id = $1 AND ($2::int IS NULL OR sequence < $2) ORDER BY sequence DESC LIMIT $3`,
      [organizationId, page.after ?? null, first],
    );
    return rows.map(sealFromRow);
  }

  /**
   * Recomputes seals fromSequence..toSequence (default: all) from the rows in PostgreSQL, in
   * order, and stops at the first broken one: CHAIN_BROKEN (its previousDigest is not the
   * digest of the seal before, or a seal is missing), ROWS_MISSING or ROWS_ADDED (it covers
   * fewer or more rows than it says), DIGEST_MISMATCH (the rows or the digest were changed).
   * One read-only snapshot for the whole check.
   */
  async verify(organizationId: string, range: { fromSequence?: number | null; toSequence?: number | null } = {}): Promise<Verification> {
    const from = range.fromSequence ?? 1;
    const to = range.toSequence ?? null;
    if (!Number.isInteger(from) || from < 1) throw AppError.badInput('fromSequence', 'fromSequence must be a seal sequence (1 or more)');
    if (to !== null && (!Number.isInteger(to) || to < from)) throw AppError.badInput('toSequence', 'toSequence must be a seal sequence, at least fromSequence');
    const runner = this.dataSource.createQueryRunner();
    const client = (await runner.connect()) as PoolClient;
    try {
      await runner.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await runner.query(CANONICAL_SESSION_SQL);
      // The seal before the range too: its digest and snapshot are where the range starts.
      const seals = (
        (await runner.query(
          `SELECT ${SEAL_COLUMNS_SQL} FROM ledger_seals WHERE organization_id = $1 AND sequence >= $2 AND ($3::int IS NULL OR sequence <= $3) ORDER BY sequence`,
          [organizationId, from - 1, to],
        )) as Record<string, unknown>[]
      ).map(sealFromRow);
      const result: Verification = { ok: true, sealsChecked: 0, rowsChecked: 0, firstBrokenSeal: null, reason: null };
      let previous: SealRecord | null = null;
      if (from > 1) {
        previous = seals[0]?.sequence === from - 1 ? seals.shift()! : null;
        if (!previous) return seals.length === 0 ? result : broken(result, from, 'CHAIN_BROKEN');
      }
      for (const seal of seals) {
        const expected = previous ? previous.sequence + 1 : 1;
        // A missing seal, or one whose previousDigest does not continue the chain.
        if (seal.sequence !== expected) return broken(result, expected, 'CHAIN_BROKEN');
        if (seal.previousDigest !== (previous?.digest ?? ZERO_DIGEST)) return broken(result, seal.sequence, 'CHAIN_BROKEN');
        const digest = new SealDigest(seal.previousDigest);
        await forEachRow(client, 'verify_rows', sealRowsQuery(organizationId, seal.snapshot, previous?.snapshot ?? null), ([line]) => digest.add(line!));
        result.sealsChecked += 1;
        result.rowsChecked += digest.rows;
        if (digest.rows < seal.rows) return broken(result, seal.sequence, 'ROWS_MISSING');
        if (digest.rows > seal.rows) return broken(result, seal.sequence, 'ROWS_ADDED');
        if (digest.hex() !== seal.digest) return broken(result, seal.sequence, 'DIGEST_MISMATCH');
        previous = seal;
      }
      return result;
    } finally {
      await runner.query('ROLLBACK').catch(() => undefined);
      await runner.release();
    }
  }

  /** The organizations with a seal made since `since`, for the worker's daily check. */
  async organizationsSealedSince(since: Date): Promise<{ organizationId: string; fromSequence: number }[]> {
    const rows: { organization_id: string; from_sequence: number }[] = await this.dataSource.query(
      `SELECT organization_id, min(sequence) AS from_sequence FROM ledger_seals WHERE sealed_at >= $1 GROUP BY organization_id ORDER BY organization_id`,
      [since],
    );
    return rows.map((r) => ({ organizationId: r.organization_id, fromSequence: r.from_sequence }));
  }

  private async latest(runner: QueryRunner, organizationId: string): Promise<SealRecord | null> {
    const [row]: Record<string, unknown>[] = await runner.query(
      `SELECT ${SEAL_COLUMNS_SQL} FROM ledger_seals WHERE organization_id = $1 ORDER BY sequence DESC LIMIT 1`,
      [organizationId],
    );
    return row ? sealFromRow(row) : null;
  }
}

function broken(result: Verification, sequence: number, reason: VerificationReason): Verification {
  return { ...result, ok: false, firstBrokenSeal: sequence, reason };
}
