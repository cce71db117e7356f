import { Args, Context, ID, Int, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { App } from '../apps/app.model';
import { AppsService } from '../apps/apps.service';
import type { AuthContext, GqlContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { Roles } from '../auth/roles.decorator';
import { AppError } from '../common/errors/app-error';
import { ByIdLoader } from '../common/graphql/by-id-loader';
import { Pool } from '../pools/pool.model';
import { PoolsService } from '../pools/pools.service';
import { WorkUnit } from '../work-units/work-unit.model';
import { WorkUnitsService } from '../work-units/work-units.service';
import { Principal } from '../principals/principal.model';
import { PrincipalsService } from '../principals/principals.service';
import { BorrowInput } from './dto/borrow.input';
import { CheckoutInput } from './dto/checkout.input';
import type { LeaseState as LeaseStateValue } from './lease.entity';
import { HeartbeatResult, Lease, LeaseState, Quote } from './lease.model';
import { LeaseRecordsService } from './lease-records.service';
import { leaseView } from './lease-view';
import { LeasesService } from './leases.service';
import { QuotesService } from './quotes.service';

@Resolver(() => Lease)
export class LeasesResolver {
  // A page of leases reads its pools, apps, work units and principals in one query each.
  private readonly pools = new ByIdLoader((organizationId, ids) => this.poolsService.findManyInOrganization(organizationId, ids));
  private readonly apps = new ByIdLoader((organizationId, ids) => this.appsService.findManyInOrganization(organizationId, ids));
  private readonly workUnits = new ByIdLoader((organizationId, ids) => this.workUnitsService.findManyInOrganization(organizationId, ids));
  private readonly principals = new ByIdLoader((organizationId, ids) => this.principalsService.findManyInOrganization(organizationId, ids));

  constructor(
    private readonly leasesService: LeasesService,
    private readonly records: LeaseRecordsService,
    private readonly poolsService: PoolsService,
    private readonly appsService: AppsService,
    private readonly principalsService: PrincipalsService,
    private readonly quotes: QuotesService,
    private readonly workUnitsService: WorkUnitsService,
  ) {}

  @Roles('ADMIN', 'CLIENT')
  @Mutation(() => Lease, { description: 'Checks an app out of a pool: POOL_EXHAUSTED or GROUP_LIMIT_REACHED when the credits are not there.' })
  async checkout(
    @CurrentAuth() auth: AuthContext,
    @Args('input', { description: 'What to check out.' }) input: CheckoutInput,
    @Context('signal') signal: AbortSignal | undefined,
  ): Promise<Lease> {
    return leaseView(await this.leasesService.checkout(auth, input, signal));
  }

  @Roles('ADMIN', 'CLIENT')
  @Mutation(() => Lease, { description: 'Keeps an active lease alive: expiresAt becomes now plus its length. LEASE_NOT_ACTIVE once it ended.' })
  async heartbeat(
    @CurrentAuth() auth: AuthContext,
    @Args('leaseId', { type: () => ID, description: 'The lease.' }) leaseId: string,
    @Args('idle', { type: () => Boolean, nullable: true, description: 'The client reports no user activity since its last heartbeat.' }) idle?: boolean | null,
  ): Promise<Lease> {
    return leaseView(await this.leasesService.heartbeat(auth, leaseId, idle ?? false));
  }

  @Roles('ADMIN', 'CLIENT')
  @Mutation(() => [HeartbeatResult], {
    description:
      'Heartbeats of up to 500 leases in one call, each answered on its own in the order asked (a lease that ended does not fail the others). One Redis call per pool touched.',
  })
  async heartbeats(
    @CurrentAuth() auth: AuthContext,
    @Args('leaseIds', { type: () => [ID], description: 'The leases, 1 to 500.' }) leaseIds: string[],
    @Args('idle', { type: () => Boolean, nullable: true, description: 'The client reports no user activity since its last heartbeat (for every lease named).' })
    idle?: boolean | null,
  ): Promise<HeartbeatResult[]> {
    const answers = await this.leasesService.heartbeatMany(auth, leaseIds, idle ?? false);
    const now = new Date(); // one clock reading for the batch, not one per lease
    return answers.map(({ leaseId, lease, error }) => {
      if (lease) return { leaseId, lease: leaseView(lease, now), code: null, state: null, message: null, retryAfterSeconds: null };
      const extensions = error!.extensions;
      return {
        leaseId,
        lease: null,
        code: error!.code,
        state: (extensions.state as LeaseStateValue | undefined) ?? null,
        message: error!.message,
        retryAfterSeconds: (extensions.retryAfterSeconds as number | undefined) ?? null,
      };
    });
  }

  @Roles('ADMIN', 'CLIENT')
  @Mutation(() => Lease, { description: 'Checks a lease in. Idempotent: an ended lease is returned as it is.' })
  async checkin(@CurrentAuth() auth: AuthContext, @Args('leaseId', { type: () => ID, description: 'The lease.' }) leaseId: string): Promise<Lease> {
    return leaseView(await this.leasesService.checkin(auth, leaseId));
  }

  @Roles('ADMIN', 'CLIENT')
  @Mutation(() => Lease, {
    description:
      "Borrows an app for hours or days, to run offline: like checkout (cost, team limits, queue order) but the lease holds a draw of its own, needs no heartbeat and holds its credits until borrowedUntil or returnBorrowed; its proof's exp is borrowedUntil. BORROW_NOT_ALLOWED when the pool's maxBorrowHours is 0 or below hours; POOL_EXHAUSTED, GROUP_LIMIT_REACHED.",
  })
  async borrow(@CurrentAuth() auth: AuthContext, @Args('input', { description: 'What to borrow, for how long.' }) input: BorrowInput): Promise<Lease> {
    return leaseView(await this.leasesService.borrow(auth, input));
  }

  @Roles('ADMIN', 'CLIENT')
  @Mutation(() => Lease, {
    description: 'Returns a borrowed lease early: its credits are free at once. Idempotent like checkin: an ended lease is returned as it is.',
  })
  async returnBorrowed(
    @CurrentAuth() auth: AuthContext,
    @Args('leaseId', { type: () => ID, description: 'The borrowed lease.' }) leaseId: string,
  ): Promise<Lease> {
    return leaseView(await this.leasesService.returnBorrowed(auth, leaseId));
  }

  @Roles('ADMIN')
  @Mutation(() => Lease, {
    description:
      'Ends a lease at once (ADMIN); its holder learns it on its next heartbeat. A borrowed lease is listed in the revocation list (GET /.well-known/revoked-leases/<organization id>) and keeps its credits until its borrowedUntil.',
  })
  async revokeLease(
    @CurrentAuth() auth: AuthContext,
    @Args('leaseId', { type: () => ID, description: 'The lease.' }) leaseId: string,
    @Args('reason', { type: () => String, nullable: true, description: 'Why, up to 500 characters.' }) reason?: string | null,
  ): Promise<Lease> {
    return leaseView(await this.leasesService.revoke(auth, leaseId, reason ?? null));
  }

  @Roles('ADMIN', 'CLIENT', 'VIEWER')
  @Query(() => Lease, { nullable: true, description: 'A lease by id; null when the caller may not see it (a CLIENT sees its own).' })
  async lease(@CurrentAuth() auth: AuthContext, @Args('id', { type: () => ID, description: 'The lease id.' }) id: string): Promise<Lease | null> {
    const lease = await this.leasesService.visibleLease(auth, id);
    return lease ? leaseView(lease) : null;
  }

  @Roles('ADMIN', 'CLIENT', 'VIEWER')
  @Query(() => [Lease], { description: 'Leases, newest first, all states unless `state` is given (a CLIENT sees its own).' })
  async leases(
    @CurrentAuth() auth: AuthContext,
    @Args('poolId', { type: () => ID, nullable: true, description: 'Only this pool.' }) poolId?: string | null,
    @Args('state', { type: () => LeaseState, nullable: true, description: 'Only this state.' }) state?: LeaseStateValue | null,
    @Args('first', { type: () => Int, nullable: true, description: 'Page size, default 50, at most 100.' }) first?: number | null,
    @Args('after', { type: () => String, nullable: true, description: 'The id of the last lease of the previous page.' }) after?: string | null,
  ): Promise<Lease[]> {
    const principalId = auth.role === 'CLIENT' ? auth.principalId : undefined;
    const rows = await this.records.list({ organizationId: auth.organizationId, principalId, poolId, state, first, after });
    return rows.map((row) => leaseView(row));
  }

  @Roles('ADMIN', 'CLIENT')
  @Query(() => Quote, { description: 'What a check-out of this app would cost you now, whether it would be granted, and how long you would likely wait.' })
  async quote(
    @CurrentAuth() auth: AuthContext,
    @Args('poolId', { type: () => ID, description: 'The pool.' }) poolId: string,
    @Args('app', { description: 'The App.key.' }) app: string,
    @Args('host', { type: () => String, nullable: true, description: 'The host you would check out from (PRINCIPAL_HOST sharing).' }) host?: string | null,
    @Args('workUnitId', { type: () => ID, nullable: true, description: 'The work unit you would charge (WORK_UNIT sharing).' }) workUnitId?: string | null,
  ): Promise<Quote> {
    return this.quotes.quote(auth, { poolId, appKey: app, host: host ?? null, workUnitId: workUnitId ?? null });
  }

  @ResolveField('pool', () => Pool, { description: 'The pool the lease draws from.' })
  async pool(@Parent() lease: Lease, @Context() context: GqlContext): Promise<Pool> {
    const pool = await this.pools.load(context, lease.organizationId, lease.poolId);
    if (!pool) throw new AppError('NOT_FOUND', `No pool with id ${lease.poolId} in your organization`, { field: 'poolId' });
    return pool;
  }

  @ResolveField('app', () => App, { description: 'The app checked out.' })
  async app(@Parent() lease: Lease, @Context() context: GqlContext): Promise<App> {
    const app = await this.apps.load(context, lease.organizationId, lease.appId);
    if (!app) throw new AppError('NOT_FOUND', `App ${lease.appId} is gone`);
    return app;
  }

  @ResolveField('workUnit', () => WorkUnit, {
    nullable: true,
    description: "The work unit the lease was checked out for (its draw is charged to the opener's), or null.",
  })
  async workUnit(@Parent() lease: Lease, @Context() context: GqlContext): Promise<WorkUnit | null> {
    return lease.workUnitId ? this.workUnits.load(context, lease.organizationId, lease.workUnitId) : null;
  }

  @ResolveField('principal', () => Principal, { description: 'The holder.' })
  async principal(@Parent() lease: Lease, @Context() context: GqlContext): Promise<Principal> {
    const principal = await this.principals.load(context, lease.organizationId, lease.principalId);
    if (!principal) throw new AppError('NOT_FOUND', `No principal with id ${lease.principalId} in your organization`, { field: 'principalId' });
    return principal;
  }
}
