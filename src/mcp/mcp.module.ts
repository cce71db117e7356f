import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { AppsModule } from '../apps/apps.module';
import { AuthModule } from '../auth/auth.module';
import { BudgetsModule } from '../budgets/budgets.module';
import { ComputeUsageModule } from '../compute-usage/compute-usage.module';
import { LeasesModule } from '../leases/leases.module';
import { PoolsModule } from '../pools/pools.module';
import { ProofsModule } from '../proofs/proofs.module';
import { WorkUnitsModule } from '../work-units/work-units.module';
import { BudgetTools } from './budget-tools';
import { LedgerTools } from './ledger-tools';
import { LeaseTools } from './lease-tools';
import { McpHttpRoute } from './mcp-http.route';
import { McpMetrics } from './mcp-metrics';
import { McpResources } from './mcp-resources';
import { McpSessionsService } from './mcp-sessions.service';
import { PoolViews } from './pool-views';
import { WorkUnitRefs } from './work-unit-refs';

/**
 * The MCP server for agents (docs/mcp.md): Streamable HTTP at /mcp on the API's port, its
 * sessions, tools and resources. The tools call the features' services in-process with the
 * session's key, so they answer exactly what GraphQL would. API processes only.
 */
@Module({
  imports: [
    AuthModule.forKeys(ApiKeysModule),
    ApiKeysModule,
    PoolsModule,
    AppsModule,
    LeasesModule,
    ProofsModule,
    WorkUnitsModule,
    ComputeUsageModule,
    BudgetsModule,
  ],
  providers: [McpHttpRoute, McpSessionsService, LeaseTools, LedgerTools, BudgetTools, McpResources, PoolViews, WorkUnitRefs, McpMetrics],
})
export class McpModule {}
