import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../config/env';
import { PoolEntity } from '../pools/pool.entity';
import type { LeaseEntity } from './lease.entity';
import { leaseFromRow } from './lease-row';
import { LeaseStore } from '../lease-engine/lease-store';
import { RestoredLease } from '../lease-engine/lease-store.types';
import { PoolMirror } from './pool-mirror';

// pg_advisory_lock(classid, objid): one lock per pool, so rebuilds of a pool never overlap.
const REBUILD_LOCK_CLASS = 7_246;
// A lease PostgreSQL holds active counts as lost from Redis only if it has this long to run
// by Redis's clock: one that runs out meanwhile is no sign of a lost state.
export const LOST_LEASE_MARGIN_MS = 1000;

/**
 * Keeps each pool's Redis state in line with PostgreSQL. When Redis lost a pool's state
 * (its epoch key is missing), holds a stale one (its epoch differs from the database's) or
 * went back in time (a grant's record found its fencing token out of order and raised the
 * epoch, or the sweep found a lease missing), the pool is rebuilt: under a per-pool advisory
 * lock, the epoch is raised in PostgreSQL (which makes any lease granted under the lost state
 * fail to record), the active leases are read, given the later of the two stores' expiries
 * and a grace period, and the store is reinstalled with them.
 */
@Injectable()
export class PoolStateService {
  private readonly logger = new Logger(PoolStateService.name);
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: LeaseStore,
    private readonly mirror: PoolMirror,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Starts a rebuild check in the background (deduplicated per pool in this process). */
  requestRebuild(poolId: string): void {
    this.ensure(poolId).catch((err: Error) => this.logger.warn(`Rebuild of pool ${poolId} failed: ${err.message}`));
  }

  /**
   * A heartbeat met a lease that Redis lacks while PostgreSQL holds it active: Redis went
   * back in time (or lost a write). Checks the pool in the background, as the sweep does.
   */
  requestLostCheck(poolId: string): void {
    this.dataSource
      .query('SELECT id, epoch::text AS epoch FROM pools WHERE id = $1', [poolId])
      .then(([pool]: { id: string; epoch: string }[]) => (pool ? this.rebuildIfLeasesLost(pool as PoolEntity) : 0))
      .catch((err: Error) => this.logger.warn(`Check of pool ${poolId} for lost leases failed: ${err.message}`));
  }

  /** Rebuilds the pool when its Redis state is missing or stale; true when it rebuilt. */
  ensure(poolId: string): Promise<boolean> {
    const running = this.inFlight.get(poolId);
    if (running) return running;
    const work = this.rebuildIfNeeded(poolId).finally(() => this.inFlight.delete(poolId));
    this.inFlight.set(poolId, work);
    return work;
  }

  /**
   * The sweep's check for a Redis that went back in time without a grant showing it (it lost
   * leases or their heartbeats, and nobody checked out since): when Redis lacks a lease that
   * PostgreSQL holds active, the pool's epoch is raised and the pool rebuilt. Returns the
   * number of pools rebuilt (0 or 1).
   */
  async rebuildIfLeasesLost(pool: PoolEntity): Promise<number> {
    const lost = await this.lostLeases(pool.id);
    if (lost.length === 0) return 0;
    this.logger.warn(
      `Pool ${pool.id}: Redis lacks ${lost.length} lease(s) PostgreSQL holds active (${lost.slice(0, 3).join(', ')}); it went back in time, rebuilding`,
    );
    await this.dataSource.query('UPDATE pools SET epoch = epoch + 1 WHERE id = $1 AND epoch = $2', [pool.id, pool.epoch]);
    return (await this.ensure(pool.id)) ? 1 : 0;
  }

  /**
   * Active leases of PostgreSQL's that Redis lacks. A check-in or revocation ends the lease in
   * PostgreSQL before Redis, so one that ended between the two reads is gone from the second
   * read of PostgreSQL; one that runs out soon is left out by Redis's clock, which is the
   * clock of every expiry in both stores.
   */
  private async lostLeases(poolId: string): Promise<string[]> {
    // Active leases, and revoked borrowed ones, which hold their credits until borrowedUntil.
    const HELD = `(state = 'ACTIVE' OR (state = 'REVOKED' AND borrowed_until IS NOT NULL AND ended_at > now()))`;
    const activeNow = (ids?: string[]): Promise<{ id: string; expires_at: Date }[]> =>
      this.dataSource.query(`SELECT id, expires_at FROM leases WHERE pool_id = $1 AND ${HELD} AND ($2::uuid[] IS NULL OR id = ANY($2::uuid[]))`, [
        poolId,
        ids ?? null,
      ]);
    const active = await activeNow();
    if (active.length === 0) return [];
    const held = await this.store.heldLeases(
      poolId,
      active.map((l) => l.id),
    );
    const outliving = (l: { id: string; expires_at: Date }) => !held.expiresAtMs.has(l.id) && l.expires_at.getTime() > held.nowMs + LOST_LEASE_MARGIN_MS;
    const missing = active.filter(outliving).map((l) => l.id);
    if (missing.length === 0) return [];
    return (await activeNow(missing)).filter(outliving).map((l) => l.id);
  }

  private async rebuildIfNeeded(poolId: string): Promise<boolean> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock($1, hashtext($2))', [REBUILD_LOCK_CLASS, poolId]);
      try {
        return await this.rebuildLocked(poolId, runner.manager);
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1, hashtext($2))', [REBUILD_LOCK_CLASS, poolId]);
      }
    } finally {
      await runner.release();
    }
  }

  private async rebuildLocked(poolId: string, session: EntityManager): Promise<boolean> {
    const redisEpoch = (await this.store.status(poolId)).epoch;
    const graceSeconds = this.config.rebuildGraceSeconds;
    const snapshot = await session.transaction(async (manager) => {
      const pool = await manager.findOne(PoolEntity, { where: { id: poolId }, lock: { mode: 'pessimistic_write' } });
      if (!pool || redisEpoch === pool.epoch) return null;
      const [raised]: [{ epoch: string }[], number] = await manager.query('UPDATE pools SET epoch = epoch + 1 WHERE id = $1 RETURNING epoch::text AS epoch', [
        poolId,
      ]);
      await this.keepLaterExpiries(poolId, manager);
      // Leases whose time ran out while Redis was gone will get no expiry event: end them here.
      await manager.query(
        `UPDATE leases SET state = 'EXPIRED', ended_at = expires_at, end_reason = 'expired',
                credit_seconds = credits * extract(epoch FROM (expires_at - acquired_at))
         WHERE pool_id = $1 AND state = 'ACTIVE' AND expires_at <= now()`,
        [poolId],
      );
      // Live holders get a grace period to heartbeat again; the record says so too. Borrowed
      // leases send no heartbeat: they keep their borrowedUntil.
      const [rows]: [Record<string, unknown>[], number] = await manager.query(
        `UPDATE leases SET expires_at = CASE WHEN borrowed_until IS NULL THEN greatest(expires_at, now() + make_interval(secs => $2)) ELSE expires_at END
         WHERE pool_id = $1 AND state = 'ACTIVE' RETURNING *`,
        [poolId, graceSeconds],
      );
      // Revoked borrowed leases keep their credits until their borrowedUntil (their ended_at).
      const revokedHeld: Record<string, unknown>[] = await manager.query(
        `SELECT * FROM leases WHERE pool_id = $1 AND state = 'REVOKED' AND borrowed_until IS NOT NULL AND ended_at > now()`,
        [poolId],
      );
      const leases = [...rows, ...revokedHeld].map(leaseFromRow);
      // A draw outlives its opener while a sharing lease is live: its credits, opener and start
      // come from all of its leases, ended ones included, not just from the ones restored.
      const draws: { draw_id: string; opener: string; cost: number; opened_at: Date }[] = await manager.query(
        `SELECT draw_id, (array_agg(id ORDER BY acquired_at) FILTER (WHERE credits > 0))[1] AS opener, max(credits) AS cost, min(acquired_at) AS opened_at
         FROM leases WHERE draw_id = ANY($1::uuid[]) GROUP BY draw_id`,
        [[...new Set(leases.map((l) => l.drawId))]],
      );
      return { pool, epoch: Number(raised[0].epoch), leases, draws };
    });
    if (!snapshot) return false;
    // The configuration comes from the pool mirror (the catalog's services), read after the
    // locked row, so it is at least as new as the row's configVersion.
    const { version, cap, apps, groups } = await this.mirror.config(snapshot.pool);
    const result = await this.store.install(poolId, {
      epoch: snapshot.epoch,
      configVersion: version,
      cap,
      apps,
      groups,
      leases: restoredLeases(snapshot.leases, snapshot.draws),
      graceMs: graceSeconds * 1000,
    });
    this.logger.warn(
      `Rebuilt pool ${poolId} in Redis at epoch ${snapshot.epoch} (was ${redisEpoch ?? 'missing'}): ${result.leasesRestored} leases, ${result.drawsRestored} draws, ${result.inUse} credits in use`,
    );
    return true;
  }

  /**
   * A Redis that still holds the pool (it went back in time, or its epoch is stale) may know
   * a later expiry of a lease than PostgreSQL, whose copy heartbeats bring up to date in
   * batches, or an earlier one (a lost heartbeat): the later of the two is kept, so a rebuild
   * never shortens a lease. Run under the pool's lock, before due leases are expired.
   */
  private async keepLaterExpiries(poolId: string, manager: EntityManager): Promise<void> {
    const active: { id: string }[] = await manager.query(`SELECT id FROM leases WHERE pool_id = $1 AND state = 'ACTIVE'`, [poolId]);
    if (active.length === 0) return;
    const { expiresAtMs } = await this.store.heldLeases(
      poolId,
      active.map((l) => l.id),
    );
    if (expiresAtMs.size === 0) return;
    await manager.query(
      `UPDATE leases l SET expires_at = r.expires_at
       FROM unnest($2::uuid[], $3::timestamptz[]) AS r(id, expires_at)
       WHERE l.id = r.id AND l.pool_id = $1 AND l.state = 'ACTIVE' AND l.expires_at < r.expires_at`,
      [poolId, [...expiresAtMs.keys()], [...expiresAtMs.values()].map((ms) => new Date(ms))],
    );
  }
}

/**
 * Leases that share a drawId form one draw again, with the credits, opener and start the
 * draw had (from all of its leases in the database; the opener may have ended already).
 */
function restoredLeases(leases: LeaseEntity[], drawRows: { draw_id: string; opener: string | null; cost: number; opened_at: Date }[]): RestoredLease[] {
  const draws = new Map<string, { cost: number; opener: string; openedAt: number }>();
  for (const row of drawRows) draws.set(row.draw_id, { cost: Number(row.cost), opener: row.opener ?? row.draw_id, openedAt: row.opened_at.getTime() });
  return leases.map((lease) => {
    const draw = draws.get(lease.drawId)!;
    return {
      leaseId: lease.id,
      drawId: lease.drawId,
      drawCost: draw.cost,
      drawOpenerLeaseId: draw.opener,
      drawOpenedAtMs: draw.openedAt,
      appId: lease.appId,
      principalId: lease.principalId,
      team: lease.team,
      host: lease.host,
      workUnitId: lease.workUnitId,
      credits: lease.credits,
      leaseMs: lease.leaseSeconds * 1000,
      acquiredAtMs: lease.acquiredAt.getTime(),
      fencingToken: lease.fencingToken,
      expiresAtMs: lease.expiresAt.getTime(),
      borrowed: lease.borrowedUntil !== null,
    };
  });
}
