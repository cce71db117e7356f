import { Args, Query, Resolver } from '@nestjs/graphql';
import type { AuthContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { Roles } from '../auth/roles.decorator';
import { AttributionCoverage } from './attribution-coverage.model';
import { BurnReport } from './burn-report.model';
import { OutcomeCost } from './outcome-cost.model';
import { OutcomeReportsService } from './outcome-reports.service';

const FROM = { description: 'Window start (inclusive): ledger rows with occurredAt at or after it count.' };
const TO = { description: 'Window end (exclusive), after `from` and at most 400 days after it; outcomes are read as of this instant.' };

/** What the organization's spend produced (ADMIN, VIEWER); organization-wide, so no ids to scope. */
@Resolver()
export class OutcomeReportsResolver {
  constructor(private readonly reports: OutcomeReportsService) {}

  @Roles('ADMIN', 'VIEWER')
  @Query(() => BurnReport, {
    description:
      'Consumption and cost split between the change organisation and the going concern, by team and by process, with the maturity level it implies (ADMIN, VIEWER).',
  })
  async burnReport(@CurrentAuth() auth: AuthContext, @Args('from', FROM) from: Date, @Args('to', TO) to: Date): Promise<BurnReport> {
    return this.reports.burnReport({ organizationId: auth.organizationId, from, to });
  }

  @Roles('ADMIN', 'VIEWER')
  @Query(() => AttributionCoverage, {
    description: 'The share of spend linked to a work unit with an owner and an outcome other than PENDING as of `to` (ADMIN, VIEWER).',
  })
  async attributionCoverage(@CurrentAuth() auth: AuthContext, @Args('from', FROM) from: Date, @Args('to', TO) to: Date): Promise<AttributionCoverage> {
    return this.reports.attributionCoverage({ organizationId: auth.organizationId, from, to });
  }

  @Roles('ADMIN', 'VIEWER')
  @Query(() => [OutcomeCost], {
    description: 'Per process: work units, accepted ones as of `to`, cost, and cost per accepted outcome, dearest first (ADMIN, VIEWER).',
  })
  async costPerOutcome(@CurrentAuth() auth: AuthContext, @Args('from', FROM) from: Date, @Args('to', TO) to: Date): Promise<OutcomeCost[]> {
    return this.reports.costPerOutcome({ organizationId: auth.organizationId, from, to });
  }
}
