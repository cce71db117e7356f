import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { BudgetsModule } from '../budgets/budgets.module';
import { MetricsModule } from '../common/metrics/metrics.module';
import { AppsModule } from '../apps/apps.module';
import { DatabaseModule } from '../common/database/database.module';
import { RedisModule } from '../common/redis/redis.module';
import { ComputeUsageModule } from '../compute-usage/compute-usage.module';
import { ConfigModule } from '../config/config.module';
import { HistoryModule } from '../history/history.module';
import { OnboardingModule } from '../onboarding/onboarding.module';
import { PoolMirrorModule } from '../leases/pool-mirror.module';
import { PoolsModule } from '../pools/pools.module';
import { PrincipalsModule } from '../principals/principals.module';
import { WorkUnitsModule } from '../work-units/work-units.module';
import { DemoHistoryService } from './demo-history.service';
import { DemoTenantService } from './demo-tenant.service';

/** What `npm run seed:demo` needs: the services admins and clients reach through the API, nothing that listens. */
@Module({
  imports: [
    ConfigModule,
    DatabaseModule,
    RedisModule,
    OnboardingModule,
    PrincipalsModule,
    ApiKeysModule,
    PoolsModule,
    AppsModule,
    // Catalog changes reach Redis through the pool mirror, as they do in the API.
    PoolMirrorModule,
    HistoryModule,
    WorkUnitsModule,
    ComputeUsageModule,
    // Budgets are created as an admin's mutation creates them; their metrics need a registry (never served here).
    MetricsModule,
    BudgetsModule,
  ],
  providers: [DemoTenantService, DemoHistoryService],
})
export class DemoModule {}
