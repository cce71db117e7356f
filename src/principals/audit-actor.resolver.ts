import { Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { AuditEntry } from '../audit/audit-entry.model';
import type { AuthContext, GqlContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { ByIdLoader } from '../common/graphql/by-id-loader';
import { Principal } from './principal.model';
import { PrincipalsService } from './principals.service';

/**
 * AuditEntry.actor, declared here: principals record into the audit log, so the audit
 * feature knows nothing of principals. A page of entries reads its actors in one query.
 */
@Resolver(() => AuditEntry)
export class AuditActorResolver {
  private readonly principals = new ByIdLoader((organizationId, ids) => this.principalsService.findManyInOrganization(organizationId, ids));

  constructor(private readonly principalsService: PrincipalsService) {}

  @ResolveField('actor', () => Principal, { description: 'Who made the change.' })
  async actor(@Parent() entry: AuditEntry, @CurrentAuth() auth: AuthContext, @Context() context: GqlContext): Promise<Principal> {
    const actor = await this.principals.load(context, auth.organizationId, entry.actorPrincipalId);
    // Entries are written with their actor and never outlive it: a missing one is a fault.
    if (!actor) throw new Error(`Audit entry ${entry.id}: actor ${entry.actorPrincipalId} not found`);
    return actor;
  }
}
