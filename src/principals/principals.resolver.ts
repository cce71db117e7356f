import { Args, Context, Mutation, Query, ResolveField, Resolver } from '@nestjs/graphql';
import type { AuthContext, GqlContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { Roles } from '../auth/roles.decorator';
import { ByIdLoader } from '../common/graphql/by-id-loader';
import { Organization } from '../organizations/organization.model';
import { OrganizationsService } from '../organizations/organizations.service';
import { CreatePrincipalInput } from './dto/create-principal.input';
import { Principal } from './principal.model';
import { PrincipalsService } from './principals.service';

@Resolver(() => Principal)
export class PrincipalsResolver {
  // Every principal a caller can reach is of its own organization: a list reads it once.
  private readonly organizationsById = new ByIdLoader(async (organizationId) => [await this.organizations.get(organizationId)]);

  constructor(
    private readonly principalsService: PrincipalsService,
    private readonly organizations: OrganizationsService,
  ) {}

  @Roles('ADMIN', 'CLIENT', 'VIEWER')
  @Query(() => Principal, { description: 'The principal the calling key acts as.' })
  async me(@CurrentAuth() auth: AuthContext): Promise<Principal> {
    return this.principalsService.getInOrganization(auth.organizationId, auth.principalId);
  }

  @Roles('ADMIN')
  @Query(() => [Principal], { description: 'Every principal of the organization, oldest first (ADMIN).' })
  async principals(@CurrentAuth() auth: AuthContext): Promise<Principal[]> {
    return this.principalsService.list(auth.organizationId);
  }

  @Roles('ADMIN')
  @Mutation(() => Principal, { description: 'Creates a user, agent or service in the organization (ADMIN).' })
  async createPrincipal(
    @CurrentAuth() auth: AuthContext,
    @Args('input', { description: 'The new principal.' }) input: CreatePrincipalInput,
  ): Promise<Principal> {
    return this.principalsService.create({ organizationId: auth.organizationId, actorPrincipalId: auth.principalId, input });
  }

  @ResolveField('organization', () => Organization, { description: 'The organization the principal belongs to.' })
  async organization(@CurrentAuth() auth: AuthContext, @Context() context: GqlContext): Promise<Organization> {
    return (await this.organizationsById.load(context, auth.organizationId, auth.organizationId))!;
  }
}
