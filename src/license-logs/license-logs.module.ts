import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { PoolsModule } from '../pools/pools.module';
import { UsageRollupsModule } from '../reports/usage-rollups.module';
import { LicenseLogImportService } from './license-log-import.service';

/** License-log import: FlexNet, RLM and lmstat logs as a pool's usage history (POST /v1/imports, import.route.ts). */
@Module({
  imports: [PoolsModule, AppsModule, UsageRollupsModule],
  providers: [LicenseLogImportService],
  exports: [LicenseLogImportService],
})
export class LicenseLogsModule {}
