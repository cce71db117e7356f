import { Args, Context, ID, Int, Mutation, Parent, Query, ResolveField, Resolver, Subscription } from '@nestjs/graphql';
import type { PubSub } from 'mercurius';
import type { AuthContext, GqlContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { Roles } from '../auth/roles.decorator';
import { AppError } from '../common/errors/app-error';
import { ByIdLoader } from '../common/graphql/by-id-loader';
import { CreatePoolInput, GroupLimitInput, UpdatePoolInput } from './dto/pool.inputs';
import { GroupLimit, Pool } from './pool.model';
import { PoolChangedPayload, PoolEventsService } from './pool-events.service';
import { LiveFigures, PoolsService } from './pools.service';

type PoolWithLive = Pool & { live?: Promise<LiveFigures> };

@Resolver(() => Pool)
export class PoolsResolver {
  constructor(
    private readonly poolsService: PoolsService,
    private readonly events: PoolEventsService,
  ) {}

  @Roles('ADMIN', 'CLIENT', 'VIEWER')
  @Query(() => [Pool], { description: 'Every pool of the organization, oldest first.' })
  async pools(@CurrentAuth() auth: AuthContext): Promise<Pool[]> {
    return this.poolsService.list(auth.organizationId);
  }

  @Roles('ADMIN', 'CLIENT', 'VIEWER')
  @Query(() => Pool, { nullable: true, description: 'A pool by id; null when the caller may not see it.' })
  async pool(@CurrentAuth() auth: AuthContext, @Args('id', { type: () => ID, description: 'The pool id.' }) id: string): Promise<Pool | null> {
    return this.poolsService.findInOrganization(auth.organizationId, id);
  }

  @Roles('ADMIN', 'VIEWER')
  @Query(() => [GroupLimit], { description: "A pool's team reservations and ceilings (ADMIN, VIEWER)." })
  async groupLimits(@CurrentAuth() auth: AuthContext, @Args('poolId', { type: () => ID, description: 'The pool id.' }) poolId: string): Promise<GroupLimit[]> {
    return this.poolsService.groupLimits(auth.organizationId, poolId);
  }

  @Roles('ADMIN')
  @Mutation(() => Pool, { description: 'Creates a pool (ADMIN).' })
  async createPool(@CurrentAuth() auth: AuthContext, @Args('input', { description: 'The new pool.' }) input: CreatePoolInput): Promise<Pool> {
    return this.poolsService.create({ organizationId: auth.organizationId, actorPrincipalId: auth.principalId }, input);
  }

  @Roles('ADMIN')
  @Mutation(() => Pool, { description: 'Changes a pool (ADMIN). A cap change is live at once and ends no lease.' })
  async updatePool(
    @CurrentAuth() auth: AuthContext,
    @Args('id', { type: () => ID, description: 'The pool id.' }) id: string,
    @Args('input', { description: 'The changes.' }) input: UpdatePoolInput,
  ): Promise<Pool> {
    return this.poolsService.update({ organizationId: auth.organizationId, actorPrincipalId: auth.principalId }, id, input);
  }

  @Roles('ADMIN')
  @Mutation(() => GroupLimit, { description: 'Sets a team reservation and ceiling in a pool (ADMIN).' })
  async setGroupLimit(@CurrentAuth() auth: AuthContext, @Args('input', { description: 'The limit.' }) input: GroupLimitInput): Promise<GroupLimit> {
    return this.poolsService.setGroupLimit({ organizationId: auth.organizationId, actorPrincipalId: auth.principalId }, input);
  }

  @Roles('ADMIN', 'CLIENT', 'VIEWER')
  @Subscription(() => Pool, {
    description: 'The pool after every check-out, check-in, expiry, revocation and cap change, made through any replica.',
    resolve(this: PoolsResolver, payload: PoolChangedPayload, _args: unknown, context: GqlContext) {
      return this.poolsService.getInOrganization(context.auth!.organizationId, payload.poolId);
    },
  })
  async poolChanged(
    @CurrentAuth() auth: AuthContext,
    @Args('poolId', { type: () => ID, description: 'The pool to watch.' }) poolId: string,
    @Context('pubsub') pubsub: PubSub,
  ) {
    const pool = await this.poolsService.getInOrganization(auth.organizationId, poolId);
    return pubsub.subscribe(this.events.topic(pool.id));
  }

  @Roles('ADMIN', 'CLIENT', 'VIEWER')
  @Subscription(() => Pool, {
    description: 'Every pool of the organization, each time one changes (the same events as poolChanged), made through any replica.',
    resolve(this: PoolsResolver, payload: PoolChangedPayload, _args: unknown, context: GqlContext) {
      return this.poolsService.getInOrganization(context.auth!.organizationId, payload.poolId);
    },
  })
  poolsChanged(@CurrentAuth() auth: AuthContext, @Context('pubsub') pubsub: PubSub) {
    return pubsub.subscribe(this.events.organizationTopic(auth.organizationId));
  }

  @ResolveField('inUse', () => Int, { description: 'Credits held now, lingering draws included.' })
  async inUse(@Parent() pool: PoolWithLive): Promise<number> {
    return (await this.live(pool)).inUse;
  }

  @ResolveField('available', () => Int, { description: 'max(0, cap - inUse - reservations not yet used by their teams).' })
  async available(@Parent() pool: PoolWithLive): Promise<number> {
    return (await this.live(pool)).available;
  }

  @ResolveField('activeLeases', () => Int, { description: 'Leases active now.' })
  async activeLeases(@Parent() pool: PoolWithLive): Promise<number> {
    return (await this.live(pool)).activeLeases;
  }

  @ResolveField('queueLength', () => Int, { description: 'Check-outs waiting in the fair queue now (live).' })
  async queueLength(@Parent() pool: PoolWithLive): Promise<number> {
    return (await this.live(pool)).queueLength;
  }

  /** One Redis read per pool object, shared by its three live fields. */
  private live(pool: PoolWithLive): Promise<LiveFigures> {
    pool.live ??= this.poolsService.live(pool.id);
    return pool.live;
  }
}

@Resolver(() => GroupLimit)
export class GroupLimitsResolver {
  private readonly pools = new ByIdLoader((organizationId, ids) => this.poolsService.findManyInOrganization(organizationId, ids));

  constructor(private readonly poolsService: PoolsService) {}

  @ResolveField('pool', () => Pool, { description: 'The pool.' })
  async pool(@Parent() limit: GroupLimit, @CurrentAuth() auth: AuthContext, @Context() context: GqlContext): Promise<Pool> {
    const pool = await this.pools.load(context, auth.organizationId, limit.poolId);
    if (!pool) throw new AppError('NOT_FOUND', `No pool with id ${limit.poolId} in your organization`, { field: 'poolId' });
    return pool;
  }
}
