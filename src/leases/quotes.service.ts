import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AppsService } from '../apps/apps.service';
import type { AuthContext } from '../auth/auth-context';
import { AppError } from '../common/errors/app-error';
import { isUuid, optionalText } from '../common/validation/validate';
import { PoolsService } from '../pools/pools.service';
import { LeaseEntity } from './lease.entity';
import { Quote } from './lease.model';
import { LeaseStore } from '../lease-engine/lease-store';
import { PoolStateService } from './pool-state.service';

const RATE_WINDOW_SECONDS = 600;

/** Quotes let agents plan instead of retrying: the same decision as a check-out, made read-only. */
@Injectable()
export class QuotesService {
  constructor(
    @InjectRepository(LeaseEntity) private readonly leases: Repository<LeaseEntity>,
    private readonly store: LeaseStore,
    private readonly pools: PoolsService,
    private readonly apps: AppsService,
    private readonly poolState: PoolStateService,
  ) {}

  async quote(auth: AuthContext, request: { poolId: string; appKey: string; host: string | null; workUnitId: string | null }): Promise<Quote> {
    const pool = await this.pools.getForCheckout(auth.organizationId, request.poolId);
    const app = await this.apps.getByKey(auth.organizationId, pool.id, request.appKey, 'app');
    const host = optionalText(request.host, 'host', { max: 255 });
    if (request.workUnitId && !isUuid(request.workUnitId)) throw AppError.badInput('workUnitId', 'workUnitId must be a work unit id');
    const result = await this.store.quote({
      poolId: pool.id,
      appId: app.id,
      principalId: auth.principalId,
      team: auth.team,
      host,
      workUnitId: request.workUnitId,
    });
    if (result.status === 'UNAVAILABLE') {
      this.poolState.requestRebuild(pool.id);
      throw AppError.unavailable('The pool is being rebuilt after a storage failover; retry shortly', 1);
    }
    if (result.status === 'UNKNOWN_APP') throw AppError.unavailable(`App ${app.key} is not yet live in this pool; retry shortly`, 1);
    const missing = Math.max(0, result.cost - result.available);
    return {
      cost: result.cost,
      grantable: result.grantable,
      available: result.available,
      queueLength: result.queuedAhead,
      estimatedWaitSeconds: result.grantable ? 0 : await this.estimateWait(pool.id, missing),
    };
  }

  /** Seconds until `credits` come free at the pool's recent release rate (credits of leases ended per second). */
  private async estimateWait(poolId: string, credits: number): Promise<number | null> {
    const rows: { released: number }[] = await this.leases.query(
      `SELECT coalesce(sum(credits), 0)::float AS released FROM leases WHERE pool_id = $1 AND ended_at > now() - make_interval(secs => $2)`,
      [poolId, RATE_WINDOW_SECONDS],
    );
    const perSecond = rows[0].released / RATE_WINDOW_SECONDS;
    if (perSecond <= 0) return null;
    return Math.max(1, Math.ceil(Math.max(credits, 1) / perSecond));
  }
}
