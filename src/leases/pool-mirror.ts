import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppsService } from '../apps/apps.service';
import type { CatalogAppEntity } from '../apps/catalog-app.entity';
import { LeaseStore } from '../lease-engine/lease-store';
import type { AppMirror, ConfigureResult, PoolConfig } from '../lease-engine/lease-store.types';
import type { PoolEntity } from '../pools/pool.entity';
import { ConfigChange, PoolsService } from '../pools/pools.service';

/** What the lease store needs to know of an app. */
export function appMirror(app: CatalogAppEntity): AppMirror {
  return { appId: app.id, cost: app.cost, shareScope: app.shareScope, lingerMs: app.lingerSeconds * 1000 };
}

/**
 * The one writer of pool configuration (cap, apps, team limits) into Redis. It reads the
 * catalog through PoolsService and AppsService, on every change they announce (in the
 * request that made it) and on the worker's resync. Each write carries the pool's
 * configVersion, read before the apps and limits, so what is written is at least as new as
 * its version, and Redis ignores a write older than what it holds.
 */
@Injectable()
export class PoolMirror implements OnModuleInit {
  private readonly logger = new Logger(PoolMirror.name);

  constructor(
    private readonly pools: PoolsService,
    private readonly apps: AppsService,
    private readonly store: LeaseStore,
  ) {}

  onModuleInit(): void {
    this.pools.onConfigChange((change) => this.changed(change));
  }

  /** The pool's configuration as the catalog holds it now, with the version of the row given. */
  async config(pool: PoolEntity): Promise<PoolConfig> {
    const [apps, groups] = await Promise.all([this.apps.listByPool(pool.id), this.pools.groupLimitsOfPool(pool.id)]);
    return {
      version: pool.configVersion,
      cap: pool.cap,
      apps: apps.map(appMirror),
      groups: groups.map((g) => ({ team: g.team, reserved: g.reserved, max: g.max })),
    };
  }

  /** Writes the configuration of this row of the pool (the worker's resync passes the row its sweep read). */
  async resync(pool: PoolEntity): Promise<ConfigureResult> {
    return this.store.configure(pool.id, await this.config(pool));
  }

  /** A check-out found its app missing from Redis: writes the pool again, in the background. */
  requestResync(poolId: string): void {
    void this.changed({ poolId });
  }

  private async changed(change: ConfigChange): Promise<void> {
    try {
      const pool = await this.pools.findById(change.poolId);
      if (!pool) return;
      if (!change.created) {
        await this.resync(pool);
        return;
      }
      // A new pool gets its first epoch here, so its first check-out needs no rebuild.
      const { version, cap, apps, groups } = await this.config(pool);
      await this.store.install(pool.id, { epoch: Number(pool.epoch), configVersion: version, cap, apps, groups, leases: [], graceMs: 0 });
    } catch (err) {
      // Saved in PostgreSQL; the worker's resync brings Redis in line shortly.
      this.logger.warn(`Pool ${change.poolId}: saved, but the Redis mirror failed (${(err as Error).message}); the worker will resync it`);
    }
  }
}
