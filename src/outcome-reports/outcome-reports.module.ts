import { Module } from '@nestjs/common';
import { OutcomeReportsResolver } from './outcome-reports.resolver';
import { OutcomeReportsService } from './outcome-reports.service';

/**
 * The finance reports of the ledger: burn location, attribution coverage, cost per outcome.
 * They read ledger_daily_usage, ledger_entries, work_units and work_unit_outcomes in SQL,
 * so they import no other feature's module.
 */
@Module({
  providers: [OutcomeReportsService, OutcomeReportsResolver],
})
export class OutcomeReportsModule {}
