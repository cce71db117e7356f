import { Injectable } from '@nestjs/common';
import { AppsService } from '../apps/apps.service';
import type { AuthContext } from '../auth/auth-context';
import { AppError } from '../common/errors/app-error';
import { isUuid } from '../common/validation/validate';
import type { PoolEntity } from '../pools/pool.entity';
import { PoolsService } from '../pools/pools.service';

/** A pool as agents see it: its figures now and what each app costs. */
export interface PoolView {
  id: string;
  name: string;
  cap: number;
  inUse: number;
  available: number;
  activeLeases: number;
  queueLength: number;
  defaultLeaseSeconds: number;
  maxLeaseSeconds: number;
  apps: { key: string; name: string; vendor: string | null; cost: number; shareScope: string }[];
}

/**
 * Pools for the MCP tools and resources: found by id or by name (agents use names), with
 * their live figures from Redis and their apps, always within the caller's organization.
 */
@Injectable()
export class PoolViews {
  constructor(
    private readonly pools: PoolsService,
    private readonly apps: AppsService,
  ) {}

  async list(auth: AuthContext): Promise<PoolView[]> {
    const pools = await this.pools.list(auth.organizationId);
    return Promise.all(pools.map((pool) => this.view(pool)));
  }

  async one(auth: AuthContext, idOrName: string): Promise<PoolView> {
    return this.view(await this.resolve(auth, idOrName));
  }

  /** The pool with this id, else the one with this name; NOT_FOUND (field `pool`) when the organization has neither. */
  async resolve(auth: AuthContext, idOrName: string): Promise<PoolEntity> {
    const byId = isUuid(idOrName) ? await this.pools.findInOrganization(auth.organizationId, idOrName) : null;
    if (byId) return byId;
    const byName = (await this.pools.list(auth.organizationId)).find((pool) => pool.name === idOrName);
    if (byName) return byName;
    throw new AppError('NOT_FOUND', `No pool with id or name "${idOrName.slice(0, 100)}" in your organization; call list_pools to see the pools`, {
      field: 'pool',
    });
  }

  private async view(pool: PoolEntity): Promise<PoolView> {
    const [live, apps] = await Promise.all([this.pools.live(pool.id), this.apps.listByPool(pool.id)]);
    return {
      id: pool.id,
      name: pool.name,
      cap: pool.cap,
      ...live,
      defaultLeaseSeconds: pool.defaultLeaseSeconds,
      maxLeaseSeconds: pool.maxLeaseSeconds,
      apps: apps.map((app) => ({ key: app.key, name: app.name, vendor: app.vendor, cost: app.cost, shareScope: app.shareScope })),
    };
  }
}
