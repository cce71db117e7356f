import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { AuthModule } from '../auth/auth.module';
import { ExportSlotsService } from './export-slots.service';
import { ExportsAuthGuard } from './exports-auth.guard';
import { ExportsController } from './exports.controller';
import { ExportsService } from './exports.service';

/** CSV exports of the ledger: the raw entries and a FinOps FOCUS 1.2 view. */
@Module({
  imports: [AuthModule.forKeys(ApiKeysModule)],
  controllers: [ExportsController],
  providers: [ExportsService, ExportSlotsService, ExportsAuthGuard],
  exports: [ExportsService],
})
export class ExportsModule {}
