import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { PoolsModule } from '../pools/pools.module';
import { CapSimulationService } from './cap-simulation.service';
import { PoolUsageService } from './pool-usage.service';
import { ReportsResolver } from './reports.resolver';
import { ShelfwareService } from './shelfware.service';
import { UsageReaderService } from './usage-reader.service';
import { UsageRollupsModule } from './usage-rollups.module';

/** The pool reports of the API: shelfware and right-sizing, usage series and histogram, what-if caps. */
@Module({
  imports: [UsageRollupsModule, PoolsModule, AppsModule],
  providers: [UsageReaderService, ShelfwareService, PoolUsageService, CapSimulationService, ReportsResolver],
})
export class ReportsModule {}
