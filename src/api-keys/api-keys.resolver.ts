import { Args, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import type { AuthContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import type { Role as RoleValue } from '../auth/role';
import { Roles } from '../auth/roles.decorator';
import { Principal } from '../principals/principal.model';
import { PrincipalsService } from '../principals/principals.service';
import { ApiKey, ApiKeyCreated, Role } from './api-key.model';
import { ApiKeysService } from './api-keys.service';

@Resolver(() => ApiKey)
export class ApiKeysResolver {
  constructor(
    private readonly keys: ApiKeysService,
    private readonly principals: PrincipalsService,
  ) {}

  @Roles('ADMIN')
  @Query(() => [ApiKey], { description: 'Every API key of the organization, revoked ones included (ADMIN). Secrets are never shown.' })
  async apiKeys(@CurrentAuth() auth: AuthContext): Promise<ApiKey[]> {
    return this.keys.list(auth.organizationId);
  }

  @Roles('ADMIN')
  @Mutation(() => ApiKeyCreated, { description: 'Creates a key for a principal of the organization and shows its secret once (ADMIN).' })
  async createApiKey(
    @CurrentAuth() auth: AuthContext,
    @Args('principalId', { type: () => ID, description: 'The principal the key acts as.' }) principalId: string,
    @Args('role', { type: () => Role, description: 'What the key may do.' }) role: RoleValue,
    @Args('expiresAt', { type: () => Date, nullable: true, description: 'When the key stops working; omit for never.' }) expiresAt?: Date | null,
  ): Promise<ApiKeyCreated> {
    const { key, secret } = await this.keys.create({ organizationId: auth.organizationId, actorPrincipalId: auth.principalId, principalId, role, expiresAt });
    return { id: key.id, role: key.role, secret };
  }

  @Roles('ADMIN')
  @Mutation(() => Boolean, { description: 'Revokes a key; every replica refuses it within 2 seconds (ADMIN).' })
  async revokeApiKey(@CurrentAuth() auth: AuthContext, @Args('id', { type: () => ID, description: 'The key id.' }) id: string): Promise<boolean> {
    return this.keys.revoke({ organizationId: auth.organizationId, actorPrincipalId: auth.principalId, id });
  }

  @ResolveField('principal', () => Principal, { description: 'The principal the key acts as.' })
  async principal(@Parent() key: ApiKey, @CurrentAuth() auth: AuthContext): Promise<Principal> {
    return this.principals.getInOrganization(auth.organizationId, key.principalId);
  }
}
