import { Injectable } from '@nestjs/common';
import type { AuthContext } from '../auth/auth-context';
import { AppError } from '../common/errors/app-error';
import { requireText } from '../common/validation/validate';
import { WorkUnitsService } from '../work-units/work-units.service';

/**
 * Agents name work units by their own externalRef, never by our ids. A ref not seen before
 * creates the work unit (as OTLP spans do), owned by the caller's principal, so an agent that
 * skipped start_work_unit still has its usage and outcome land on its work.
 */
@Injectable()
export class WorkUnitRefs {
  constructor(private readonly workUnits: WorkUnitsService) {}

  async idOf(auth: AuthContext, externalRef: string, field: string): Promise<string> {
    const ref = requireText(externalRef, field, { max: 255 });
    const id = (await this.workUnits.idsForExternalRefs(auth, [ref])).get(ref);
    if (!id) throw AppError.unavailable(`The work unit "${ref}" could not be created; retry shortly`, 1);
    return id;
  }
}
