import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import type { AuthContext, GqlContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { Roles } from '../auth/roles.decorator';
import { ByIdLoader } from '../common/graphql/by-id-loader';
import { ComputeUsageInput } from '../compute-usage/dto/compute-usage.inputs';
import { Principal } from '../principals/principal.model';
import { PrincipalsService } from '../principals/principals.service';
import { WorkUnit } from '../work-units/work-unit.model';
import { WorkUnitsService } from '../work-units/work-units.service';
import { ComputeBudget, ComputeReservation } from './budget.model';
import { BudgetsService } from './budgets.service';
import { CreateComputeBudgetInput, ReserveComputeInput, UpdateComputeBudgetInput } from './dto/budget.inputs';
import { ReservationsService } from './reservations.service';

@Resolver(() => ComputeBudget)
export class BudgetsResolver {
  private readonly principals = new ByIdLoader((organizationId, ids) => this.principalsService.findManyInOrganization(organizationId, ids));
  private readonly workUnits = new ByIdLoader((organizationId, ids) => this.workUnitsService.findManyInOrganization(organizationId, ids));

  constructor(
    private readonly budgets: BudgetsService,
    private readonly principalsService: PrincipalsService,
    private readonly workUnitsService: WorkUnitsService,
  ) {}

  @Roles('ADMIN', 'CLIENT', 'VIEWER')
  @Query(() => [ComputeBudget], {
    description: "The organization's compute budgets with live figures (ADMIN, VIEWER); a CLIENT sees the budgets that apply to it.",
  })
  async computeBudgets(@CurrentAuth() auth: AuthContext): Promise<ComputeBudget[]> {
    return this.budgets.list(auth);
  }

  @Roles('ADMIN')
  @Mutation(() => ComputeBudget, { description: 'Creates a compute budget (ADMIN); audited. It applies to reservations made from now on.' })
  async createComputeBudget(
    @CurrentAuth() auth: AuthContext,
    @Args('input', { description: 'The budget.' }) input: CreateComputeBudgetInput,
  ): Promise<ComputeBudget> {
    return this.budgets.create(auth, input);
  }

  @Roles('ADMIN')
  @Mutation(() => ComputeBudget, { description: 'Renames a budget or changes its limit (ADMIN); audited. Lowering the limit ends no reservation.' })
  async updateComputeBudget(
    @CurrentAuth() auth: AuthContext,
    @Args('id', { type: () => ID, description: 'The budget id.' }) id: string,
    @Args('input', { description: 'The changes.' }) input: UpdateComputeBudgetInput,
  ): Promise<ComputeBudget> {
    return this.budgets.update(auth, id, input);
  }

  @Roles('ADMIN')
  @Mutation(() => Boolean, { description: 'Deletes a budget (ADMIN); audited. OPEN reservations keep their other budgets.' })
  async deleteComputeBudget(@CurrentAuth() auth: AuthContext, @Args('id', { type: () => ID, description: 'The budget id.' }) id: string): Promise<boolean> {
    return this.budgets.remove(auth, id);
  }

  @ResolveField('principal', () => Principal, { nullable: true, description: 'PRINCIPAL budgets: the principal.' })
  async principal(@Parent() budget: ComputeBudget, @Context() context: GqlContext): Promise<Principal | null> {
    return budget.principalId ? ((await this.principals.load(context, budget.organizationId, budget.principalId)) ?? null) : null;
  }

  @ResolveField('workUnit', () => WorkUnit, { nullable: true, description: 'WORK_UNIT budgets: the work unit.' })
  async workUnit(@Parent() budget: ComputeBudget, @Context() context: GqlContext): Promise<WorkUnit | null> {
    return budget.workUnitId ? ((await this.workUnits.load(context, budget.organizationId, budget.workUnitId)) ?? null) : null;
  }
}

@Resolver(() => ComputeReservation)
export class ReservationsResolver {
  private readonly workUnits = new ByIdLoader((organizationId, ids) => this.workUnitsService.findManyInOrganization(organizationId, ids));

  constructor(
    private readonly reservations: ReservationsService,
    private readonly budgets: BudgetsService,
    private readonly workUnitsService: WorkUnitsService,
  ) {}

  @Roles('ADMIN', 'CLIENT', 'VIEWER')
  @Query(() => ComputeReservation, { nullable: true, description: 'A compute reservation: its holder, ADMIN and VIEWER; null for anyone else.' })
  async reservation(
    @CurrentAuth() auth: AuthContext,
    @Args('id', { type: () => ID, description: 'The reservation id.' }) id: string,
  ): Promise<ComputeReservation | null> {
    return this.reservations.visible(auth, id);
  }

  @Roles('ADMIN', 'CLIENT')
  @Mutation(() => ComputeReservation, {
    description:
      "Holds the call's cost (maxInputTokens x input price + maxOutputTokens x output price, or amount) on every budget that applies: the organization's, the caller's team's, the caller's and the work unit's, in one atomic step. BUDGET_EXHAUSTED (extensions budgetId, remaining, requested) when one has too little room; nothing is held then.",
  })
  async reserveCompute(
    @CurrentAuth() auth: AuthContext,
    @Args('input', { description: 'The call to reserve for.' }) input: ReserveComputeInput,
  ): Promise<ComputeReservation> {
    return this.reservations.reserve(auth, input);
  }

  @Roles('ADMIN', 'CLIENT')
  @Mutation(() => ComputeReservation, {
    description:
      "Records `usage` in the ledger exactly as recordComputeUsage would (same eventId rules), charges its cost to the reservation's budgets (in full, even above the hold) and releases the rest. Idempotent: settling again with the same eventId returns the settled reservation.",
  })
  async settleCompute(
    @CurrentAuth() auth: AuthContext,
    @Args('reservationId', { type: () => ID, description: 'Your reservation.' }) reservationId: string,
    @Args('usage', { description: "The call's real usage." }) usage: ComputeUsageInput,
  ): Promise<ComputeReservation> {
    return this.reservations.settle(auth, reservationId, usage);
  }

  @Roles('ADMIN', 'CLIENT')
  @Mutation(() => ComputeReservation, { description: 'Releases an OPEN reservation at once (the call was not made); idempotent.' })
  async cancelReservation(
    @CurrentAuth() auth: AuthContext,
    @Args('reservationId', { type: () => ID, description: 'Your reservation.' }) reservationId: string,
  ): Promise<ComputeReservation> {
    return this.reservations.cancel(auth, reservationId);
  }

  @ResolveField('budgets', () => [ComputeBudget], { description: 'The budgets the reservation holds (or held), with their live figures.' })
  async budgetsOf(@Parent() reservation: ComputeReservation): Promise<ComputeBudget[]> {
    return this.budgets.byIds(reservation.organizationId, reservation.budgetIds);
  }

  @ResolveField('workUnit', () => WorkUnit, { nullable: true })
  async workUnit(@Parent() reservation: ComputeReservation, @Context() context: GqlContext): Promise<WorkUnit | null> {
    return reservation.workUnitId ? ((await this.workUnits.load(context, reservation.organizationId, reservation.workUnitId)) ?? null) : null;
  }
}
