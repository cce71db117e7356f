import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { LedgerModule } from '../ledger/ledger.module';
import { PrincipalsModule } from '../principals/principals.module';
import { WorkUnitsModule } from '../work-units/work-units.module';
import { BudgetMetricsService } from './budget-metrics.service';
import { BudgetEngineModule } from '../budget-engine/budget-engine.module';
import { BudgetsResolver, ReservationsResolver } from './budgets.resolver';
import { BudgetsService } from './budgets.service';
import { ReservationsService } from './reservations.service';

/** Compute budgets and reservations in the API (docs/budgets.md). */
@Module({
  imports: [BudgetEngineModule, LedgerModule, AuditModule, PrincipalsModule, WorkUnitsModule],
  providers: [BudgetsService, ReservationsService, BudgetsResolver, ReservationsResolver, BudgetMetricsService],
  exports: [BudgetsService, ReservationsService],
})
export class BudgetsModule {}
