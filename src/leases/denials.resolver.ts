import { Args, Context, ID, Int, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { App } from '../apps/app.model';
import { AppsService } from '../apps/apps.service';
import type { AuthContext, GqlContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { Roles } from '../auth/roles.decorator';
import { AppError } from '../common/errors/app-error';
import { ByIdLoader } from '../common/graphql/by-id-loader';
import { Pool } from '../pools/pool.model';
import { PoolsService } from '../pools/pools.service';
import { Principal } from '../principals/principal.model';
import { PrincipalsService } from '../principals/principals.service';
import { Denial } from './lease.model';
import { DenialRecordsService } from './denial-records.service';

@Resolver(() => Denial)
export class DenialsResolver {
  // A page of denials reads its pools, apps and principals in one query each.
  private readonly pools = new ByIdLoader((organizationId, ids) => this.poolsService.findManyInOrganization(organizationId, ids));
  private readonly apps = new ByIdLoader((organizationId, ids) => this.appsService.findManyInOrganization(organizationId, ids));
  private readonly principals = new ByIdLoader((organizationId, ids) => this.principalsService.findManyInOrganization(organizationId, ids));

  constructor(
    private readonly records: DenialRecordsService,
    private readonly poolsService: PoolsService,
    private readonly appsService: AppsService,
    private readonly principalsService: PrincipalsService,
  ) {}

  @Roles('ADMIN', 'VIEWER')
  @Query(() => [Denial], {
    description:
      'Refused check-outs of a pool in [from, to), oldest first; repeated refusals of one principal, app and reason within a few seconds are one denial with a `count` (ADMIN, VIEWER).',
  })
  async denials(
    @CurrentAuth() auth: AuthContext,
    @Args('poolId', { type: () => ID, description: 'The pool.' }) poolId: string,
    @Args('from', { description: 'Window start (inclusive).' }) from: Date,
    @Args('to', { description: 'Window end (exclusive).' }) to: Date,
    @Args('first', { type: () => Int, nullable: true, description: 'Page size, default 50, at most 100.' }) first?: number | null,
    @Args('after', { type: () => String, nullable: true, description: 'The id of the last denial of the previous page.' }) after?: string | null,
  ): Promise<Denial[]> {
    const pool = await this.poolsService.findInOrganization(auth.organizationId, poolId);
    if (!pool) return [];
    return this.records.list({ organizationId: auth.organizationId, poolId: pool.id, from, to, first, after });
  }

  @ResolveField('pool', () => Pool, { description: 'The pool.' })
  async pool(@Parent() denial: Denial, @CurrentAuth() auth: AuthContext, @Context() context: GqlContext): Promise<Pool> {
    const pool = await this.pools.load(context, auth.organizationId, denial.poolId);
    if (!pool) throw new AppError('NOT_FOUND', `No pool with id ${denial.poolId} in your organization`, { field: 'poolId' });
    return pool;
  }

  @ResolveField('app', () => App, { description: 'The app asked for.' })
  async app(@Parent() denial: Denial, @CurrentAuth() auth: AuthContext, @Context() context: GqlContext): Promise<App> {
    const app = await this.apps.load(context, auth.organizationId, denial.appId);
    if (!app) throw new AppError('NOT_FOUND', `App ${denial.appId} is gone`);
    return app;
  }

  @ResolveField('principal', () => Principal, { description: 'Who was refused.' })
  async principal(@Parent() denial: Denial, @CurrentAuth() auth: AuthContext, @Context() context: GqlContext): Promise<Principal> {
    const principal = await this.principals.load(context, auth.organizationId, denial.principalId);
    if (!principal) throw new AppError('NOT_FOUND', `No principal with id ${denial.principalId} in your organization`, { field: 'principalId' });
    return principal;
  }
}
