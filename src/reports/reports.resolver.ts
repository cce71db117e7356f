import { Args, Float, ID, Int, Query, Resolver } from '@nestjs/graphql';
import type { AuthContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { Roles } from '../auth/roles.decorator';
import { CapSimulation } from './cap-simulation.model';
import { CapSimulationService } from './cap-simulation.service';
import { Bucket, type BucketValue, PoolUsagePoint, UsageLevel } from './pool-usage.model';
import { PoolUsageService } from './pool-usage.service';
import { ShelfwareReport } from './shelfware-report.model';
import { ShelfwareService } from './shelfware.service';

const POOL = { type: () => ID, description: 'The pool; NOT_FOUND when it is not in your organization.' };
const FROM = { description: 'Window start (inclusive); must be in the past.' };
const TO = { description: 'Window end (exclusive); at most 400 days after `from`. Time after now is not measured.' };

/** The pool reports (ADMIN, VIEWER). Every figure is over [from, to) and computed by the services. */
@Resolver()
export class ReportsResolver {
  constructor(
    private readonly shelfware: ShelfwareService,
    private readonly usage: PoolUsageService,
    private readonly simulation: CapSimulationService,
  ) {}

  @Roles('ADMIN', 'VIEWER')
  @Query(() => ShelfwareReport, {
    description: 'Peak, 95th percentile and average use, unused capacity, denials, per-app use, lapsed principals and a suggested cap (ADMIN, VIEWER).',
  })
  async shelfwareReport(
    @CurrentAuth() auth: AuthContext,
    @Args('poolId', POOL) poolId: string,
    @Args('from', FROM) from: Date,
    @Args('to', TO) to: Date,
    @Args('tolerance', { type: () => Float, nullable: true, description: 'Share of the window requests (0 to <1) the suggested cap may refuse; default 0.' })
    tolerance?: number | null,
  ): Promise<ShelfwareReport> {
    return this.shelfware.report({ organizationId: auth.organizationId, poolId, from, to, tolerance });
  }

  @Roles('ADMIN', 'VIEWER')
  @Query(() => [PoolUsagePoint], { description: 'Peak and average credits in use, cap and denials per UTC hour or day (ADMIN, VIEWER).' })
  async poolUsage(
    @CurrentAuth() auth: AuthContext,
    @Args('poolId', POOL) poolId: string,
    @Args('from', FROM) from: Date,
    @Args('to', TO) to: Date,
    @Args('bucket', { type: () => Bucket, description: 'HOUR or DAY (UTC).' }) bucket: BucketValue,
  ): Promise<PoolUsagePoint[]> {
    return this.usage.series({ organizationId: auth.organizationId, poolId, from, to, bucket });
  }

  @Roles('ADMIN', 'VIEWER')
  @Query(() => [UsageLevel], { description: 'For each level of use, the share of the window the pool spent there, lowest level first (ADMIN, VIEWER).' })
  async usageHistogram(
    @CurrentAuth() auth: AuthContext,
    @Args('poolId', POOL) poolId: string,
    @Args('from', FROM) from: Date,
    @Args('to', TO) to: Date,
  ): Promise<UsageLevel[]> {
    return this.usage.histogram({ organizationId: auth.organizationId, poolId, from, to });
  }

  @Roles('ADMIN', 'VIEWER')
  @Query(() => CapSimulation, { description: "The window's recorded demand replayed first come first served against another cap (ADMIN, VIEWER)." })
  async simulateCap(
    @CurrentAuth() auth: AuthContext,
    @Args('poolId', POOL) poolId: string,
    @Args('cap', { type: () => Int, description: 'The cap to try.' }) cap: number,
    @Args('from', FROM) from: Date,
    @Args('to', TO) to: Date,
    @Args('maxWaitSeconds', {
      type: () => Int,
      nullable: true,
      description: 'How long a replayed request waits for credits before it counts as denied; default 300.',
    })
    maxWaitSeconds?: number | null,
  ): Promise<CapSimulation> {
    return this.simulation.simulate({ organizationId: auth.organizationId, poolId, cap, from, to, maxWaitSeconds });
  }
}
