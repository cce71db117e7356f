import { Args, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import type { AuthContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { Roles } from '../auth/roles.decorator';
import { AppError } from '../common/errors/app-error';
import { LedgerSeal, LedgerVerification } from './ledger-seal.model';
import { LedgerSealsService } from './ledger-seals.service';

// A verification reads every row of the seals it checks on a connection of its own.
const VERIFICATIONS_PER_PROCESS = 2;

@Resolver(() => LedgerSeal)
export class LedgerSealsResolver {
  private verifying = 0;

  constructor(private readonly seals: LedgerSealsService) {}

  @Roles('ADMIN', 'VIEWER')
  @Query(() => [LedgerSeal], { description: "The organization's ledger seals, newest first (ADMIN, VIEWER)." })
  async ledgerSeals(
    @CurrentAuth() auth: AuthContext,
    @Args('first', { type: () => Int, nullable: true, description: 'Page size, default 50, at most 500.' }) first?: number | null,
    @Args('after', { type: () => Int, nullable: true, description: 'A sequence: the page continues with the seals before it.' }) after?: number | null,
  ): Promise<LedgerSeal[]> {
    return this.seals.list(auth.organizationId, { first, after });
  }

  @Roles('ADMIN', 'VIEWER')
  @Query(() => LedgerVerification, {
    description:
      'Recomputes the seals fromSequence..toSequence (default all) from the rows in PostgreSQL and names the first broken one and why (ADMIN, VIEWER).',
  })
  async verifyLedger(
    @CurrentAuth() auth: AuthContext,
    @Args('fromSequence', { type: () => Int, nullable: true, description: 'The first seal to check (default 1).' }) fromSequence?: number | null,
    @Args('toSequence', { type: () => Int, nullable: true, description: 'The last seal to check (default the newest).' }) toSequence?: number | null,
  ): Promise<LedgerVerification> {
    if (this.verifying >= VERIFICATIONS_PER_PROCESS) {
      throw new AppError('RATE_LIMITED', `This server runs ${VERIFICATIONS_PER_PROCESS} ledger verifications already; retry shortly`, { retryAfterSeconds: 5 });
    }
    this.verifying++;
    try {
      return await this.seals.verify(auth.organizationId, { fromSequence, toSequence });
    } finally {
      this.verifying--;
    }
  }

  @Roles('ADMIN')
  @Mutation(() => LedgerSeal, {
    nullable: true,
    description:
      'Seals what the ledger recorded since the last seal, now (ADMIN); null when nothing was. The worker also seals every LEDGER_SEAL_INTERVAL_SECONDS.',
  })
  async sealLedger(@CurrentAuth() auth: AuthContext): Promise<LedgerSeal | null> {
    return this.seals.seal(auth.organizationId);
  }
}
