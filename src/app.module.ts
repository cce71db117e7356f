import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, MercuriusDriverConfig } from '@nestjs/mercurius';
import { ApiKeysModule } from './api-keys/api-keys.module';
import { AppsModule } from './apps/apps.module';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { BudgetsModule } from './budgets/budgets.module';
import { LedgerSealsModule } from './ledger-seals/ledger-seals.module';
import { LicenseLogsModule } from './license-logs/license-logs.module';
import { ComputeUsageModule } from './compute-usage/compute-usage.module';
import { RequestAuthService } from './auth/request-auth.service';
import { SubscriptionSocketsService } from './auth/subscription-sockets.service';
import { AppExceptionFilter } from './common/errors/app-exception.filter';
import { DatabaseModule } from './common/database/database.module';
import { ExportsModule } from './exports/exports.module';
import { HealthModule } from './common/health/health.module';
import { HistoryModule } from './history/history.module';
import { LeasesModule } from './leases/leases.module';
import { LoggingModule } from './common/logging/logging.module';
import { McpModule } from './mcp/mcp.module';
import { MetricsModule } from './common/metrics/metrics.module';
import { MetricsService } from './common/metrics/metrics.service';
import { RedisModule } from './common/redis/redis.module';
import { ConfigModule } from './config/config.module';
import { APP_CONFIG, AppConfig } from './config/env';
import { graphqlOptions } from './graphql.options';
import { OnboardingModule } from './onboarding/onboarding.module';
import { OrganizationsModule } from './organizations/organizations.module';
import { OutcomeReportsModule } from './outcome-reports/outcome-reports.module';
import { PoolsModule } from './pools/pools.module';
import { PrincipalsModule } from './principals/principals.module';
import { ProofsModule } from './proofs/proofs.module';
import { ReportsModule } from './reports/reports.module';
import { UiModule } from './ui/ui.module';
import { WorkUnitsModule } from './work-units/work-units.module';

/** The API process: GraphQL and health on PORT, metrics on METRICS_PORT. */
@Module({
  imports: [
    ConfigModule,
    LoggingModule,
    DatabaseModule,
    RedisModule,
    MetricsModule.onOwnPort(),
    HealthModule,
    AuthModule.forKeys(ApiKeysModule),
    GraphQLModule.forRootAsync<MercuriusDriverConfig>({
      driver: MercuriusDriver,
      imports: [AuthModule.forKeys(ApiKeysModule)],
      inject: [APP_CONFIG, RequestAuthService, MetricsService, SubscriptionSocketsService],
      useFactory: (config: AppConfig, requestAuth: RequestAuthService, metrics: MetricsService, sockets: SubscriptionSocketsService) =>
        graphqlOptions(config, requestAuth, metrics, sockets),
    }),
    OrganizationsModule,
    PrincipalsModule,
    ApiKeysModule,
    AuditModule,
    OnboardingModule,
    PoolsModule,
    AppsModule,
    LeasesModule,
    ProofsModule,
    ReportsModule,
    HistoryModule,
    WorkUnitsModule,
    ComputeUsageModule,
    BudgetsModule,
    LedgerSealsModule,
    LicenseLogsModule,
    OutcomeReportsModule,
    ExportsModule,
    McpModule,
    UiModule,
  ],
  providers: [{ provide: APP_FILTER, useClass: AppExceptionFilter }],
})
export class AppModule {}
