import { Args, Int, Query, Resolver } from '@nestjs/graphql';
import type { AuthContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { Roles } from '../auth/roles.decorator';
import { AuditEntry } from './audit-entry.model';
import { AuditService } from './audit.service';
import { AuditEntryEntity } from './audit-entry.entity';

function toModel(entry: AuditEntryEntity): AuditEntry {
  return {
    id: entry.id,
    at: entry.at,
    actorPrincipalId: entry.actorPrincipalId,
    action: entry.action,
    objectId: entry.objectId,
    before: entry.before === null ? null : JSON.stringify(entry.before),
    after: entry.after === null ? null : JSON.stringify(entry.after),
  };
}

/** The audit log; its `actor` field is resolved in principals/audit-actor.resolver.ts. */
@Resolver(() => AuditEntry)
export class AuditResolver {
  constructor(private readonly audit: AuditService) {}

  @Roles('ADMIN')
  @Query(() => [AuditEntry], { description: 'Administrative changes in [from, to), oldest first (ADMIN).' })
  async auditLog(
    @CurrentAuth() auth: AuthContext,
    @Args('from', { description: 'Window start (inclusive).' }) from: Date,
    @Args('to', { description: 'Window end (exclusive).' }) to: Date,
    @Args('first', { type: () => Int, nullable: true, description: 'Page size, default 50, at most 100.' }) first?: number,
    @Args('after', { type: () => String, nullable: true, description: 'The id of the last entry of the previous page.' }) after?: string,
  ): Promise<AuditEntry[]> {
    return (await this.audit.list({ organizationId: auth.organizationId, from, to, first, after })).map(toModel);
  }
}
