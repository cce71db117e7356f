import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { LeaseDrawsModule } from '../leases/lease-draws.module';
import { PoolsModule } from '../pools/pools.module';
import { UsageRollupsModule } from '../reports/usage-rollups.module';
import { WorkUnitsModule } from '../work-units/work-units.module';
import { HistoryImportService } from './history-import.service';

/** Imports of past usage (demo data, migrations from another license server, report tests). */
@Module({
  imports: [PoolsModule, AppsModule, LeaseDrawsModule, UsageRollupsModule, WorkUnitsModule],
  providers: [HistoryImportService],
  exports: [HistoryImportService],
})
export class HistoryModule {}
