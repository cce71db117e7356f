import { Args, Context, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import type { AuthContext, GqlContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import type { Role as RoleValue } from '../auth/role';
import { Roles } from '../auth/roles.decorator';
import { AppError } from '../common/errors/app-error';
import { ByIdLoader } from '../common/graphql/by-id-loader';
import { Principal } from '../principals/principal.model';
import { PrincipalsService } from '../principals/principals.service';
import { ApiKey, ApiKeyCreated, Role } from './api-key.model';
import { ApiKeysService } from './api-keys.service';

@Resolver(() => ApiKey)
export class ApiKeysResolver {
  /** A page of keys reads its principals in one query. */
  private readonly principalsById = new ByIdLoader((organizationId, ids) => this.principals.findManyInOrganization(organizationId, ids));

  constructor(
    private readonly keys: ApiKeysService,
    private readonly principals: PrincipalsService,
  ) {}

  @Roles('ADMIN')
  @Query(() => [ApiKey], { description: 'Every API key of the organization, revoked ones included (ADMIN). Secrets are never shown.' })
  async apiKeys(@CurrentAuth() auth: AuthContext): Promise<ApiKey[]> {
    return this.keys.list(auth.organizationId);
  }

  @Roles('ADMIN', 'CLIENT', 'VIEWER')
  @Query(() => ApiKey, { description: 'The key this request was made with: its role and its principal (every role). Never its secret.' })
  async currentKey(@CurrentAuth() auth: AuthContext): Promise<ApiKey> {
    return this.keys.current(auth);
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
  async principal(@Parent() key: ApiKey, @CurrentAuth() auth: AuthContext, @Context() context: GqlContext): Promise<Principal> {
    const principal = await this.principalsById.load(context, auth.organizationId, key.principalId);
    if (!principal) throw new AppError('NOT_FOUND', `No principal with id ${key.principalId} in your organization`, { field: 'principalId' });
    return principal;
  }
}
