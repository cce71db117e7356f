import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { appMirror } from '../apps/app-mirror';
import { CatalogAppEntity } from '../apps/catalog-app.entity';
import { APP_CONFIG, AppConfig } from '../config/env';
import { GroupLimitEntity } from '../pools/group-limit.entity';
import { PoolEntity } from '../pools/pool.entity';
import type { LeaseEntity } from './lease.entity';
import { leaseFromRow } from './lease-row';
import { LeaseStore } from './lease-store';
import { RestoredLease } from './lease-store.types';

// pg_advisory_lock(classid, objid): one lock per pool, so rebuilds of a pool never overlap.
const REBUILD_LOCK_CLASS = 7_246;

/**
 * Keeps each pool's Redis state in line with PostgreSQL. When Redis lost a pool's state
 * (its epoch key is missing) or holds a stale one (its epoch differs from the database's),
 * the pool is rebuilt: under a per-pool advisory lock, the epoch is raised in PostgreSQL
 * (which makes any lease granted under the lost state fail to record), the active leases
 * are read and given a grace period, and the store is reinstalled with them.
 */
@Injectable()
export class PoolStateService {
  private readonly logger = new Logger(PoolStateService.name);
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: LeaseStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Starts a rebuild check in the background (deduplicated per pool in this process). */
  requestRebuild(poolId: string): void {
    this.ensure(poolId).catch((err: Error) => this.logger.warn(`Rebuild of pool ${poolId} failed: ${err.message}`));
  }

  /** Rebuilds the pool when its Redis state is missing or stale; true when it rebuilt. */
  ensure(poolId: string): Promise<boolean> {
    const running = this.inFlight.get(poolId);
    if (running) return running;
    const work = this.rebuildIfNeeded(poolId).finally(() => this.inFlight.delete(poolId));
    this.inFlight.set(poolId, work);
    return work;
  }

  /** Re-writes the pool's cap, apps and team limits into Redis (idempotent; ends no lease). */
  async resyncConfig(pool: PoolEntity): Promise<void> {
    const { apps, groups } = await this.catalog(pool.id);
    await this.store.setCap(pool.id, pool.cap);
    for (const app of apps) await this.store.upsertApp(pool.id, appMirror(app));
    for (const group of groups) await this.store.setGroupLimit(pool.id, { team: group.team, reserved: group.reserved, max: group.max });
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
      const [raised]: [{ epoch: string }[], number] = await manager.query('UPDATE pools SET epoch = epoch + 1 WHERE id = $1 RETURNING epoch::text AS epoch', [poolId]);
      // Leases whose time ran out while Redis was gone will get no expiry event: end them here.
      await manager.query(
        `UPDATE leases SET state = 'EXPIRED', ended_at = expires_at, end_reason = 'expired',
                credit_seconds = credits * extract(epoch FROM (expires_at - acquired_at))
         WHERE pool_id = $1 AND state = 'ACTIVE' AND expires_at <= now()`,
        [poolId],
      );
      // Live holders get a grace period to heartbeat again; the record says so too.
      const [rows]: [Record<string, unknown>[], number] = await manager.query(
        `UPDATE leases SET expires_at = greatest(expires_at, now() + make_interval(secs => $2))
         WHERE pool_id = $1 AND state = 'ACTIVE' RETURNING *`,
        [poolId, graceSeconds],
      );
      const leases = rows.map(leaseFromRow);
      // A draw outlives its opener while a sharing lease is live: its credits, opener and start
      // come from all of its leases, ended ones included, not just from the ones restored.
      const draws: { draw_id: string; opener: string; cost: number; opened_at: Date }[] = await manager.query(
        `SELECT draw_id, (array_agg(id ORDER BY acquired_at) FILTER (WHERE credits > 0))[1] AS opener, max(credits) AS cost, min(acquired_at) AS opened_at
         FROM leases WHERE draw_id = ANY($1::uuid[]) GROUP BY draw_id`,
        [[...new Set(leases.map((l) => l.drawId))]],
      );
      const { apps, groups } = await this.catalog(poolId, manager);
      return { pool, epoch: Number(raised[0].epoch), leases, draws, apps, groups };
    });
    if (!snapshot) return false;
    const result = await this.store.install(poolId, {
      epoch: snapshot.epoch,
      cap: snapshot.pool.cap,
      apps: snapshot.apps.map(appMirror),
      groups: snapshot.groups.map((g) => ({ team: g.team, reserved: g.reserved, max: g.max })),
      leases: restoredLeases(snapshot.leases, snapshot.draws),
      graceMs: graceSeconds * 1000,
    });
    this.logger.warn(
      `Rebuilt pool ${poolId} in Redis at epoch ${snapshot.epoch} (was ${redisEpoch ?? 'missing'}): ${result.leasesRestored} leases, ${result.drawsRestored} draws, ${result.inUse} credits in use`,
    );
    return true;
  }

  private async catalog(poolId: string, manager = this.dataSource.manager) {
    const [apps, groups] = await Promise.all([manager.findBy(CatalogAppEntity, { poolId }), manager.findBy(GroupLimitEntity, { poolId })]);
    return { apps, groups };
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
    };
  });
}
