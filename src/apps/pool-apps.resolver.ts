import { Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { Pool } from '../pools/pool.model';
import { App } from './app.model';
import { AppsService } from './apps.service';

/** Pool.apps lives with the apps, so the pools feature never needs to know about them. */
@Resolver(() => Pool)
export class PoolAppsResolver {
  constructor(private readonly appsService: AppsService) {}

  @ResolveField('apps', () => [App], { description: 'The apps that draw from this pool.' })
  async apps(@Parent() pool: Pool): Promise<App[]> {
    return this.appsService.listByPool(pool.id);
  }
}
