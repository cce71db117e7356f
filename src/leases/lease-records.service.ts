import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import DataLoader from 'dataloader';
import { Repository } from 'typeorm';
import { NamedStatements } from '../common/database/named-statements';
import { AppError } from '../common/errors/app-error';
import { isUuid, pageSize } from '../common/validation/validate';
import type { HeartbeatRun } from './heartbeat-write-behind';
import { LeaseEntity, LeaseState } from './lease.entity';
import { END_LEASES, endSets, INSERT_LEASES, WRITE_HEARTBEATS } from './hot-statements';
import { leaseFromRow } from './lease-row';

export type NewLease = Omit<
  LeaseEntity,
  'state' | 'endedAt' | 'revokedAt' | 'lastHeartbeatAt' | 'idleSince' | 'creditSeconds' | 'endReason' | 'borrowedUntil'
> & {
  /** A borrowed lease's end (its expiresAt); absent or null for a check-out. */
  borrowedUntil?: Date | null;
};

/** A lease PostgreSQL shows ended, though a heartbeat just extended it in Redis. */
export interface EndedLease {
  id: string;
  poolId: string;
  state: LeaseState;
}

export type InsertOutcome = { inserted: true } | { inserted: false; reason: 'STALE_EPOCH' | 'ROLLED_BACK' | 'IDEMPOTENCY_TAKEN' };

/** Who ends which lease, and how: see endIfActive. */
export interface EndTarget {
  organizationId: string;
  leaseId: string;
  principalId: string;
  anyHolder: boolean;
  state: 'RELEASED' | 'REVOKED';
  reason: string | null;
}

/** Leases one reconciliation pass ends without their expiry event, at most (the next pass takes the rest). */
const OVERDUE_BATCH = 500;

/** Group commit: what one turn of the event loop brings, at most 200 rows a statement. */
const GROUP_COMMIT = { cache: false, maxBatchSize: 200, batchScheduleFn: (flush: () => void) => setImmediate(flush) };

/** Errors of one row's data or of lock order, after which each row is worth trying on its own. */
function rowSpecific(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return code.startsWith('22') || code.startsWith('23') || code === '40P01' || code === '40001';
}

export interface LeasePage {
  organizationId: string;
  principalId?: string;
  poolId?: string | null;
  state?: LeaseState | null;
  first?: number | null;
  after?: string | null;
}

/**
 * The PostgreSQL side of leases: the lease rows (the record that survives Redis losing its
 * data) and idle intervals (denials: denial-records.service.ts). Every statement is scoped to one organization by its
 * caller or by the lease id it was handed by the lease store.
 */
@Injectable()
export class LeaseRecordsService {
  constructor(@InjectRepository(LeaseEntity) private readonly leases: Repository<LeaseEntity>) {
    this.statements = new NamedStatements(leases.manager.connection);
  }

  /** The hot statements (hot-statements.ts) go through here, never through the driver. */
  private readonly statements: NamedStatements;

  /**
   * Records a granted lease, but only while the pool's epoch is the one the grant was made
   * under, and only if Redis has not gone back in time. The pool row is locked, so a rebuild
   * (which raises the epoch under an exclusive lock, then reads the active leases) either sees
   * this row or makes it fail, and the grants of one pool are checked one statement after the
   * other against the highest fencing token recorded before them (see INSERT_LEASES).
   *
   * Group commit: the grants that reach this point in one turn of the event loop are
   * written by one statement (one round trip, one commit), each with its own outcome.
   */
  insert(lease: NewLease): Promise<InsertOutcome> {
    return this.inserts.load(lease);
  }

  private readonly inserts = new DataLoader<NewLease, InsertOutcome>((batch) => this.insertBatch(batch), GROUP_COMMIT);

  private async insertBatch(batch: readonly NewLease[]): Promise<(InsertOutcome | Error)[]> {
    try {
      return await this.insertRows(batch);
    } catch (err) {
      // One lease's data must not fail the others: write them one by one.
      if (batch.length > 1 && rowSpecific(err))
        return Promise.all(
          batch.map((lease) =>
            this.insertRows([lease]).then(
              ([outcome]) => outcome,
              (e: Error) => e,
            ),
          ),
        );
      return batch.map(() => err as Error);
    }
  }

  private async insertRows(batch: readonly NewLease[]): Promise<InsertOutcome[]> {
    const rows = await this.statements.run<{ id: string; inserted: boolean; current_epoch: boolean | null; rolled_back: boolean }>(INSERT_LEASES, [
      batch.map((l) => l.id),
      batch.map((l) => l.organizationId),
      batch.map((l) => l.poolId),
      batch.map((l) => l.appId),
      batch.map((l) => l.principalId),
      batch.map((l) => l.requestedByPrincipalId),
      batch.map((l) => l.apiKeyId),
      batch.map((l) => l.workUnitId),
      batch.map((l) => l.team),
      batch.map((l) => l.host),
      batch.map((l) => l.drawId),
      batch.map((l) => l.credits),
      batch.map((l) => l.leaseSeconds),
      batch.map((l) => l.fencingToken),
      batch.map((l) => l.epoch),
      batch.map((l) => l.acquiredAt),
      batch.map((l) => l.expiresAt),
      batch.map((l) => l.idempotencyKey),
      batch.map((l) => l.requestHash),
      batch.map((l) => l.borrowedUntil ?? null),
    ]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return batch.map((lease): InsertOutcome => {
      const row = byId.get(lease.id);
      if (row?.inserted) return { inserted: true };
      if (row?.rolled_back) return { inserted: false, reason: 'ROLLED_BACK' };
      return { inserted: false, reason: row?.current_epoch ? 'IDEMPOTENCY_TAKEN' : 'STALE_EPOCH' };
    });
  }

  /** The row `insert` wrote, as an entity, without reading it back. */
  inserted(lease: NewLease): LeaseEntity {
    return this.leases.create({
      ...lease,
      borrowedUntil: lease.borrowedUntil ?? null,
      state: 'ACTIVE',
      endedAt: null,
      revokedAt: null,
      lastHeartbeatAt: null,
      idleSince: null,
      creditSeconds: null,
      endReason: null,
    });
  }

  async findByIdempotencyKey(organizationId: string, apiKeyId: string, idempotencyKey: string): Promise<LeaseEntity | null> {
    return this.leases.findOneBy({ organizationId, apiKeyId, idempotencyKey });
  }

  async findInOrganization(organizationId: string, id: string): Promise<LeaseEntity | null> {
    if (!isUuid(id)) return null;
    return this.one('SELECT * FROM leases WHERE id = $1 AND organization_id = $2', [id, organizationId]);
  }

  /** Borrowed leases of the organization revoked, whose borrowedUntil (their ended_at) is at most an hour past: oldest revocation first. */
  async revokedBorrowed(organizationId: string): Promise<{ id: string; revokedAt: Date; borrowedUntil: Date }[]> {
    if (!isUuid(organizationId)) return [];
    const rows: { id: string; revoked_at: Date; borrowed_until: Date }[] = await this.leases.query(
      `SELECT id, revoked_at, borrowed_until FROM leases
       WHERE organization_id = $1 AND state = 'REVOKED' AND borrowed_until IS NOT NULL AND ended_at > now() - interval '1 hour'
       ORDER BY revoked_at, id`,
      [organizationId],
    );
    return rows.map((r) => ({ id: r.id, revokedAt: r.revoked_at, borrowedUntil: r.borrowed_until }));
  }

  /** Who asked for each of these leases (the holder, or a SERVICE on the holder's behalf), in one query. */
  async requestersOf(ids: string[]): Promise<Map<string, string>> {
    const rows: { id: string; requested_by_principal_id: string }[] = await this.leases.query(
      'SELECT id, requested_by_principal_id FROM leases WHERE id = ANY($1::uuid[])',
      [ids.filter(isUuid)],
    );
    return new Map(rows.map((row) => [row.id, row.requested_by_principal_id]));
  }

  async findById(id: string): Promise<LeaseEntity | null> {
    return isUuid(id) ? this.one('SELECT * FROM leases WHERE id = $1', [id]) : null;
  }

  /**
   * One lease by a raw query: these lookups sit on every heartbeat and check-in, where
   * TypeORM's find (about 1 ms here) costs three times the query itself.
   */
  private async one(sql: string, params: unknown[]): Promise<LeaseEntity | null> {
    const rows: Record<string, unknown>[] = await this.leases.query(sql, params);
    return rows.length === 0 ? null : leaseFromRow(rows[0]);
  }

  /**
   * Ends an active lease now (check-in, revocation), unless its time ran out first. Returns
   * the lease as it is afterwards.
   */
  async end(lease: LeaseEntity, state: 'RELEASED' | 'REVOKED', reason: string | null): Promise<LeaseEntity> {
    const [rows]: [{ ended_at: Date; revoked_at: Date | null; credit_seconds: string }[], number] = await this.leases.query(
      `UPDATE leases SET state = $2, ${endSets('leases', '$2')}, end_reason = $3
       WHERE id = $1 AND state = 'ACTIVE' AND expires_at > now() RETURNING ended_at, revoked_at, credit_seconds`,
      [lease.id, state, reason],
    );
    if (rows.length === 0) return (await this.expireIfDue(lease.id)) ?? lease;
    if (lease.idleSince) await this.closeIdleInterval(lease.id);
    const { ended_at: endedAt, revoked_at: revokedAt, credit_seconds: creditSeconds } = rows[0];
    return this.leases.create({ ...lease, state, endReason: reason, endedAt, revokedAt, creditSeconds: Number(creditSeconds) });
  }

  /**
   * The common check-in and revocation in one statement: ends the lease if it is in the
   * organization, still active and not run out, and (unless `anyHolder`) held or requested
   * by `principalId`. Returns the ended lease, or null when any of that is not so: the caller
   * then reads the lease to answer why (NOT_FOUND, already ended, expired). Group commit as
   * for `insert`: the ends of one turn of the event loop share one statement.
   */
  async endIfActive(target: EndTarget): Promise<LeaseEntity | null> {
    if (!isUuid(target.leaseId)) return null;
    const ended = await this.ends.load(target);
    if (ended?.idleSince) {
      await this.closeIdleInterval(ended.id);
      ended.idleSince = null;
    }
    return ended;
  }

  private readonly ends = new DataLoader<EndTarget, LeaseEntity | null>((batch) => this.endBatch(batch), GROUP_COMMIT);

  private async endBatch(batch: readonly EndTarget[]): Promise<(LeaseEntity | null | Error)[]> {
    let rows: Record<string, unknown>[];
    try {
      rows = await this.statements.run(END_LEASES, [
        batch.map((t) => t.leaseId),
        batch.map((t) => t.organizationId),
        batch.map((t) => t.state),
        batch.map((t) => t.reason),
        batch.map((t) => t.anyHolder),
        batch.map((t) => t.principalId),
      ]);
    } catch (err) {
      // A deadlock between two batches (the same leases ended twice at once) or one row's
      // data: each end goes on its own.
      if (batch.length > 1 && rowSpecific(err)) return Promise.all(batch.map((t) => this.endBatch([t]).then(([r]) => r)));
      return batch.map(() => err as Error);
    }
    // The same lease ended twice in one batch is ended once: the first asker frees it, the
    // other reads it as already ended.
    const byId = new Map(rows.map((r) => [r.id as string, r]));
    return batch.map((t) => {
      const row = byId.get(t.leaseId);
      byId.delete(t.leaseId);
      return row ? leaseFromRow(row) : null;
    });
  }

  /** Marks the lease EXPIRED at its expiresAt if that time has passed and it is still ACTIVE; returns the row. */
  async expireIfDue(id: string): Promise<LeaseEntity | null> {
    const [, expired]: [unknown[], number] = await this.leases.query(
      `UPDATE leases SET state = 'EXPIRED', ended_at = expires_at, end_reason = 'expired',
              credit_seconds = credits * extract(epoch FROM (expires_at - acquired_at))
       WHERE id = $1 AND state = 'ACTIVE' AND expires_at <= now()`,
      [id],
    );
    if (expired > 0) await this.closeIdleInterval(id);
    return this.findById(id);
  }

  /**
   * The lease store dropped this lease at its expiry: record it (idempotent; unknown ids are
   * orphans of a crash). `atMs`, the expiry the store acted on, is the end when given:
   * PostgreSQL's copy of the expiry may lag the store's (heartbeats are written behind).
   */
  async markExpired(id: string, atMs?: number): Promise<void> {
    await this.expire({ ids: [id], at: atMs === undefined ? null : new Date(atMs), graceSeconds: null });
  }

  /**
   * Active leases of the pool whose recorded expiry passed more than graceSeconds ago, the
   * oldest first: those whose expiry event may have been lost (see expireLost).
   */
  async overdue(poolId: string, graceSeconds: number): Promise<string[]> {
    const rows: { id: string }[] = await this.leases.query(
      `SELECT id FROM leases WHERE pool_id = $1 AND state = 'ACTIVE' AND expires_at < now() - make_interval(secs => $2::int)
       ORDER BY expires_at LIMIT ${OVERDUE_BATCH}`,
      [poolId, graceSeconds],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Ends as expired, at their recorded expiry, those of these leases that are still active
   * and more than graceSeconds past it: leases whose expiry event was lost with Redis's
   * data. The caller has made sure the lease store no longer holds them. Returns how many.
   */
  expireLost(ids: string[], graceSeconds: number): Promise<number> {
    return ids.length === 0 ? Promise.resolve(0) : this.expire({ ids, at: null, graceSeconds });
  }

  /**
   * One statement, so that a worker killed half-way leaves nothing half-done: the leases
   * become EXPIRED (at `at`, else at their expiry, never later than now) and an idle interval
   * still open is closed at the end. Rows are locked in id order, as the heartbeat writes do.
   */
  private async expire(target: { ids: string[]; at: Date | null; graceSeconds: number | null }): Promise<number> {
    const rows: { ended: number }[] = await this.leases.query(
      `WITH old AS (
         SELECT id, idle_since, least(coalesce($2::timestamptz, expires_at), now()) AS at FROM leases
         WHERE id = ANY($1::uuid[]) AND state = 'ACTIVE' AND ($3::int IS NULL OR expires_at < now() - make_interval(secs => $3::int))
           -- An event of an earlier grant under the same (idempotency-derived) lease id ends no later grant.
           AND ($2::timestamptz IS NULL OR acquired_at < $2::timestamptz)
         ORDER BY id FOR UPDATE),
       ended AS (
         UPDATE leases l SET state = 'EXPIRED', ended_at = old.at, end_reason = 'expired', idle_since = NULL,
                expires_at = CASE WHEN $2::timestamptz IS NULL THEN l.expires_at ELSE old.at END,
                credit_seconds = l.credits * extract(epoch FROM (old.at - l.acquired_at))
         FROM old WHERE l.id = old.id
         RETURNING l.organization_id, l.pool_id, l.id, old.idle_since, old.at),
       idle AS (
         INSERT INTO lease_idle_intervals (organization_id, pool_id, lease_id, started_at, ended_at)
         SELECT organization_id, pool_id, id, idle_since, at FROM ended WHERE idle_since IS NOT NULL AND at > idle_since)
       SELECT count(*)::int AS ended FROM ended`,
      [target.ids, target.at, target.graceSeconds],
    );
    return rows[0].ended;
  }

  /**
   * Brings PostgreSQL's copy of heartbeats up to date, for many leases in one statement (the
   * write-behind hands over one run of same-idle heartbeats per lease): expires_at and
   * last_heartbeat_at only move forward, and the idle bookkeeping is kept as each heartbeat
   * would have kept it: an idle run opens an interval at the heartbeat before it, an active
   * one closes the open interval at its first heartbeat. Rows are locked in id order, so
   * batches of several API processes never deadlock each other. Returns the leases that
   * PostgreSQL shows ended (checked in, revoked, expired) although Redis still extended them.
   */
  async writeHeartbeats(runs: readonly HeartbeatRun[]): Promise<EndedLease[]> {
    if (runs.length === 0) return [];
    const rows = await this.statements.run<{ id: string; pool_id: string; state: LeaseState }>(WRITE_HEARTBEATS, [
      runs.map((r) => r.leaseId),
      runs.map((r) => r.expiresAt),
      runs.map((r) => r.idle),
      runs.map((r) => r.firstAt),
      runs.map((r) => r.lastAt),
    ]);
    return rows.map((r) => ({ id: r.id, poolId: r.pool_id, state: r.state }));
  }

  /** Active leases of a pool that have not run out, for rebuilding its Redis state. */
  async activeForRebuild(poolId: string): Promise<LeaseEntity[]> {
    return this.leases
      .createQueryBuilder('l')
      .where('l.pool_id = :poolId', { poolId })
      .andWhere(`l.state = 'ACTIVE'`)
      .andWhere('l.expires_at > now()')
      .getMany();
  }

  async list(page: LeasePage): Promise<LeaseEntity[]> {
    const first = pageSize(page.first);
    const query = this.leases.createQueryBuilder('l').where('l.organization_id = :org', { org: page.organizationId });
    if (page.principalId) query.andWhere('(l.principal_id = :me OR l.requested_by_principal_id = :me)', { me: page.principalId });
    if (page.poolId) query.andWhere('l.pool_id = :poolId', { poolId: isUuid(page.poolId) ? page.poolId : '00000000-0000-0000-0000-000000000000' });
    if (page.state === 'ACTIVE') query.andWhere(`l.state = 'ACTIVE' AND l.expires_at > now()`);
    else if (page.state === 'EXPIRED') query.andWhere(`(l.state = 'EXPIRED' OR (l.state = 'ACTIVE' AND l.expires_at <= now()))`);
    else if (page.state) query.andWhere('l.state = :state', { state: page.state });
    if (page.after) {
      if (!isUuid(page.after)) throw AppError.badInput('after', 'after must be the id of the last lease of the previous page');
      query.andWhere('(l.acquired_at, l.id) < (SELECT a.acquired_at, a.id FROM leases a WHERE a.id = :after AND a.organization_id = :org)', {
        after: page.after,
      });
    }
    return query.orderBy('l.acquired_at', 'DESC').addOrderBy('l.id', 'DESC').limit(first).getMany();
  }

  /** Closes the lease's open idle interval, if any, at the end of the lease or now. */
  private async closeIdleInterval(id: string): Promise<void> {
    await this.leases.query(
      `WITH closed AS (
         UPDATE leases l SET idle_since = NULL
         FROM (SELECT id, idle_since FROM leases WHERE id = $1 AND idle_since IS NOT NULL FOR UPDATE) old
         WHERE l.id = old.id
         RETURNING l.organization_id, l.pool_id, l.id, old.idle_since AS started, coalesce(l.ended_at, now()) AS ended)
       INSERT INTO lease_idle_intervals (organization_id, pool_id, lease_id, started_at, ended_at)
       SELECT organization_id, pool_id, id, started, ended FROM closed WHERE ended > started`,
      [id],
    );
  }
}
