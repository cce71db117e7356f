import { Module } from '@nestjs/common';
import { OutcomesService } from './outcomes.service';
import { WorkUnitsResolver } from './work-units.resolver';
import { WorkUnitsService } from './work-units.service';

/**
 * Work units and their outcomes. Exports WorkUnitsService (lookups with totals, for
 * Lease.workUnit and the ingest paths) and OutcomesService (outcomes as of a date, for reports).
 */
@Module({
  providers: [WorkUnitsService, OutcomesService, WorkUnitsResolver],
  exports: [WorkUnitsService, OutcomesService],
})
export class WorkUnitsModule {}
