import { Args, ID, Mutation, Resolver } from '@nestjs/graphql';
import type { AuthContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { Roles } from '../auth/roles.decorator';
import { App } from './app.model';
import { AppsService } from './apps.service';
import { CreateAppInput } from './dto/create-app.input';
import { UpdateAppInput } from './dto/update-app.input';

@Resolver(() => App)
export class AppsResolver {
  constructor(private readonly appsService: AppsService) {}

  @Roles('ADMIN')
  @Mutation(() => App, { description: 'Adds an app to a pool (ADMIN). Live for check-outs at once.' })
  async createApp(@CurrentAuth() auth: AuthContext, @Args('input', { description: 'The new app.' }) input: CreateAppInput): Promise<App> {
    return this.appsService.create({ organizationId: auth.organizationId, actorPrincipalId: auth.principalId }, input);
  }

  @Roles('ADMIN')
  @Mutation(() => App, { description: 'Changes an app (ADMIN). A new cost applies to new draws; held draws keep theirs.' })
  async updateApp(
    @CurrentAuth() auth: AuthContext,
    @Args('id', { type: () => ID, description: 'The app id.' }) id: string,
    @Args('input', { description: 'The changes.' }) input: UpdateAppInput,
  ): Promise<App> {
    return this.appsService.update({ organizationId: auth.organizationId, actorPrincipalId: auth.principalId }, id, input);
  }
}
