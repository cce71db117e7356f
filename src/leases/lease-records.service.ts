import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AppError } from '../common/errors/app-error';
import { isUuid, pageSize, requireWindow } from '../common/validation/validate';
import { DenialEntity, DenialReason } from './denial.entity';
import { LeaseEntity, LeaseState } from './lease.entity';
import { leaseFromRow } from './lease-row';

export type NewLease = Omit<LeaseEntity, 'state' | 'endedAt' | 'lastHeartbeatAt' | 'idleSince' | 'creditSeconds' | 'endReason'>;

export type InsertOutcome = { inserted: true } | { inserted: false; reason: 'STALE_EPOCH' | 'IDEMPOTENCY_TAKEN' };

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
 * data), idle intervals and denials. Every statement is scoped to one organization by its
 * caller or by the lease id it was handed by the lease store.
 */
@Injectable()
export class LeaseRecordsService {
  constructor(
    @InjectRepository(LeaseEntity) private readonly leases: Repository<LeaseEntity>,
    @InjectRepository(DenialEntity) private readonly denials: Repository<DenialEntity>,
  ) {}

  /**
   * Records a granted lease, but only while the pool's epoch is the one the grant was made
   * under: the pool row is share-locked, so a rebuild (which raises the epoch under an
   * exclusive lock, then reads the active leases) either sees this row or makes it fail.
   */
  async insert(lease: NewLease): Promise<InsertOutcome> {
    try {
      const rows: unknown[] = await this.leases.query(
        `WITH p AS (SELECT id FROM pools WHERE id = $2 AND epoch = $15 FOR SHARE)
         INSERT INTO leases (id, organization_id, pool_id, app_id, principal_id, requested_by_principal_id, api_key_id, work_unit_id,
                             team, host, draw_id, credits, lease_seconds, fencing_token, epoch, state, acquired_at, expires_at,
                             idempotency_key, request_hash)
         SELECT $1, $3, p.id, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'ACTIVE', $16, $17, $18, $19 FROM p
         RETURNING id`,
        [
          lease.id, lease.poolId, lease.organizationId, lease.appId, lease.principalId, lease.requestedByPrincipalId, lease.apiKeyId,
          lease.workUnitId, lease.team, lease.host, lease.drawId, lease.credits, lease.leaseSeconds, lease.fencingToken, lease.epoch,
          lease.acquiredAt, lease.expiresAt, lease.idempotencyKey, lease.requestHash,
        ],
      );
      return rows.length === 1 ? { inserted: true } : { inserted: false, reason: 'STALE_EPOCH' };
    } catch (err) {
      const e = err as { code?: string; constraint?: string };
      if (e.code === '23505' && (e.constraint === 'uq_leases_idempotency' || e.constraint === 'pk_leases')) return { inserted: false, reason: 'IDEMPOTENCY_TAKEN' };
      throw err;
    }
  }

  /** The row `insert` wrote, as an entity, without reading it back. */
  inserted(lease: NewLease): LeaseEntity {
    return this.leases.create({ ...lease, state: 'ACTIVE', endedAt: null, lastHeartbeatAt: null, idleSince: null, creditSeconds: null, endReason: null });
  }

  async findByIdempotencyKey(organizationId: string, apiKeyId: string, idempotencyKey: string): Promise<LeaseEntity | null> {
    return this.leases.findOneBy({ organizationId, apiKeyId, idempotencyKey });
  }

  async findInOrganization(organizationId: string, id: string): Promise<LeaseEntity | null> {
    if (!isUuid(id)) return null;
    return this.one('SELECT * FROM leases WHERE id = $1 AND organization_id = $2', [id, organizationId]);
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
    const [rows]: [{ ended_at: Date; credit_seconds: string }[], number] = await this.leases.query(
      `UPDATE leases SET state = $2, ended_at = now(), end_reason = $3, credit_seconds = credits * extract(epoch FROM (now() - acquired_at))
       WHERE id = $1 AND state = 'ACTIVE' AND expires_at > now() RETURNING ended_at, credit_seconds`,
      [lease.id, state, reason],
    );
    if (rows.length === 0) return (await this.expireIfDue(lease.id)) ?? lease;
    if (lease.idleSince) await this.closeIdleInterval(lease.id);
    return this.leases.create({ ...lease, state, endReason: reason, endedAt: rows[0].ended_at, creditSeconds: Number(rows[0].credit_seconds) });
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

  /** The lease store dropped this lease at its expiry: record it (idempotent; unknown ids are orphans of a crash). */
  async markExpired(id: string): Promise<void> {
    const [, expired]: [unknown[], number] = await this.leases.query(
      `UPDATE leases SET state = 'EXPIRED', ended_at = least(expires_at, now()), end_reason = 'expired',
              credit_seconds = credits * extract(epoch FROM (least(expires_at, now()) - acquired_at))
       WHERE id = $1 AND state = 'ACTIVE'`,
      [id],
    );
    if (expired > 0) await this.closeIdleInterval(id);
  }

  /**
   * Extends an active lease to `expiresAt` (from the lease store's clock) and keeps the idle
   * bookkeeping: an idle heartbeat opens an interval at the previous heartbeat, an active one
   * closes it. Returns null when the lease ended meanwhile.
   */
  async heartbeat(lease: LeaseEntity, expiresAt: Date, idle: boolean): Promise<LeaseEntity | null> {
    if (!idle && lease.idleSince) await this.closeIdleInterval(lease.id);
    // TypeORM answers an UPDATE with [rows, affected].
    const [rows]: [{ last_heartbeat_at: Date; idle_since: Date | null }[], number] = await this.leases.query(
      `UPDATE leases SET expires_at = $2, last_heartbeat_at = now(),
              idle_since = CASE WHEN $3 THEN coalesce(idle_since, last_heartbeat_at, acquired_at) ELSE NULL END
       WHERE id = $1 AND state = 'ACTIVE' RETURNING last_heartbeat_at, idle_since`,
      [lease.id, expiresAt, idle],
    );
    if (rows.length === 0) return null;
    return this.leases.create({ ...lease, expiresAt, lastHeartbeatAt: rows[0].last_heartbeat_at, idleSince: rows[0].idle_since });
  }

  /** Active leases of a pool that have not run out, for rebuilding its Redis state. */
  async activeForRebuild(poolId: string): Promise<LeaseEntity[]> {
    return this.leases.createQueryBuilder('l').where('l.pool_id = :poolId', { poolId }).andWhere(`l.state = 'ACTIVE'`).andWhere('l.expires_at > now()').getMany();
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
      query.andWhere('(l.acquired_at, l.id) < (SELECT a.acquired_at, a.id FROM leases a WHERE a.id = :after AND a.organization_id = :org)', { after: page.after });
    }
    return query.orderBy('l.acquired_at', 'DESC').addOrderBy('l.id', 'DESC').limit(first).getMany();
  }

  async recordDenial(denial: { organizationId: string; poolId: string; appId: string; principalId: string; team: string | null; requested: number; available: number; reason: DenialReason }): Promise<void> {
    await this.denials.insert(denial);
  }

  async listDenials(page: { organizationId: string; poolId: string; from: Date; to: Date; first?: number | null; after?: string | null }): Promise<DenialEntity[]> {
    requireWindow(page.from, page.to, { maxDays: 3660 });
    const first = pageSize(page.first);
    if (page.after && !/^[0-9]{1,19}$/.test(page.after)) throw AppError.badInput('after', 'after must be the id of the last denial of the previous page');
    const query = this.denials
      .createQueryBuilder('d')
      .where('d.organization_id = :org AND d.pool_id = :pool', { org: page.organizationId, pool: page.poolId })
      .andWhere('d.at >= :from AND d.at < :to', { from: page.from, to: page.to })
      .orderBy('d.id', 'ASC')
      .limit(first);
    if (page.after) query.andWhere('d.id > :after', { after: page.after });
    return query.getMany();
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
