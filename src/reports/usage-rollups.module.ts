import { Module } from '@nestjs/common';
import { UsageRollupsService } from './usage-rollups.service';
import { UsageSourceService } from './usage-source.service';

/** The usage rollups and the raw reads behind them: for the reports, the worker's job and history imports. */
@Module({
  providers: [UsageSourceService, UsageRollupsService],
  exports: [UsageRollupsService, UsageSourceService],
})
export class UsageRollupsModule {}
