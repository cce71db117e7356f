import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { BudgetEngineModule } from '../budget-engine/budget-engine.module';
import { LedgerModule } from '../ledger/ledger.module';
import { WorkUnitsModule } from '../work-units/work-units.module';
import { ComputeUsageResolver } from './compute-usage.resolver';
import { ComputeUsageService } from './compute-usage.service';
import { ModelPriceEntity } from './model-price.entity';
import { ModelPricesService } from './model-prices.service';
import { OtlpTracesService } from './otlp/otlp-traces.service';

/**
 * Compute usage: recordComputeUsage, the model price table (setModelPrice) and the OTLP
 * trace endpoint (registered on Fastify by app.setup.ts, see otlp/otlp-traces.route.ts).
 */
@Module({
  imports: [TypeOrmModule.forFeature([ModelPriceEntity]), LedgerModule, WorkUnitsModule, AuditModule, BudgetEngineModule],
  providers: [ComputeUsageService, ModelPricesService, OtlpTracesService, ComputeUsageResolver],
  exports: [OtlpTracesService, ComputeUsageService, ModelPricesService],
})
export class ComputeUsageModule {}
