import { Args, Context, ID, Int, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import type { AuthContext, GqlContext } from '../auth/auth-context';
import { ByIdLoader } from '../common/graphql/by-id-loader';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { Roles } from '../auth/roles.decorator';
import { OutcomeInput, WorkUnitFilter, WorkUnitInput } from './dto/work-unit.inputs';
import { OutcomesService } from './outcomes.service';
import { OutcomeRecord, WorkUnit } from './work-unit.model';
import { WorkUnitsService } from './work-units.service';

@Resolver(() => WorkUnit)
export class WorkUnitsResolver {
  /** A page of work units reads its outcome histories in one query. */
  private readonly histories = new ByIdLoader(async (organizationId, ids) => {
    const byUnit = await this.outcomes.histories(organizationId, ids);
    return ids.map((id) => ({ id, records: byUnit.get(id) ?? [] }));
  });

  constructor(
    private readonly workUnitsService: WorkUnitsService,
    private readonly outcomes: OutcomesService,
  ) {}

  @Roles('ADMIN', 'CLIENT')
  @Mutation(() => WorkUnit, {
    description:
      "Creates a work unit, or changes the one with this externalRef (fields left out keep their value). A CLIENT key may change the owner, team or process only of a work unit its own principal created (FORBIDDEN otherwise); naming another's by its externalRef returns it.",
  })
  async upsertWorkUnit(@CurrentAuth() auth: AuthContext, @Args('input', { description: 'The work unit.' }) input: WorkUnitInput): Promise<WorkUnit> {
    return this.workUnitsService.upsert(auth, input);
  }

  @Roles('ADMIN', 'CLIENT')
  @Mutation(() => WorkUnit, {
    description:
      "Records a work unit's outcome as it stands now; the previous one is kept in its history. A CLIENT key may record it only on a work unit its own principal created (FORBIDDEN otherwise).",
  })
  async recordOutcome(@CurrentAuth() auth: AuthContext, @Args('input', { description: 'The outcome.' }) input: OutcomeInput): Promise<WorkUnit> {
    return this.outcomes.record(auth, input);
  }

  @Roles('ADMIN', 'CLIENT', 'VIEWER')
  @Query(() => WorkUnit, { nullable: true, description: 'A work unit by id, with its ledger totals; null when the caller may not see it.' })
  async workUnit(@CurrentAuth() auth: AuthContext, @Args('id', { type: () => ID, description: 'The work unit id.' }) id: string): Promise<WorkUnit | null> {
    return this.workUnitsService.findInOrganization(auth.organizationId, id);
  }

  @Roles('ADMIN', 'CLIENT', 'VIEWER')
  @Query(() => [WorkUnit], { description: 'Work units, newest first, with their ledger totals.' })
  async workUnits(
    @CurrentAuth() auth: AuthContext,
    @Args('filter', { type: () => WorkUnitFilter, nullable: true, description: 'Which work units.' }) filter?: WorkUnitFilter | null,
    @Args('first', { type: () => Int, nullable: true, description: 'Page size, default 50, at most 100.' }) first?: number | null,
    @Args('after', { type: () => String, nullable: true, description: 'The id of the last work unit of the previous page.' }) after?: string | null,
  ): Promise<WorkUnit[]> {
    return this.workUnitsService.list({ organizationId: auth.organizationId, filter, first, after });
  }

  @ResolveField('outcomeHistory', () => [OutcomeRecord], { description: 'Every outcome recorded for the work unit, oldest first.' })
  async outcomeHistory(@Parent() unit: WorkUnit, @Context() context: GqlContext): Promise<OutcomeRecord[]> {
    return (await this.histories.load(context, unit.organizationId, unit.id))?.records ?? [];
  }
}
