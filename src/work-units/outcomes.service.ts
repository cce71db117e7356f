import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AuthContext } from '../auth/auth-context';
import { AppError } from '../common/errors/app-error';
import { isUuid, optionalText, requireNumber } from '../common/validation/validate';
import { OutcomeInput } from './dto/work-unit.inputs';
import { mayChangeWorkUnit, notYourWorkUnit } from './work-unit-access';
import type { OutcomeStatus, ValueDimension } from './work-unit.entity';
import { OutcomeRecord, WorkUnit } from './work-unit.model';
import { WorkUnitsService } from './work-units.service';

/** A work unit's outcome at some instant. */
export interface OutcomeSnapshot {
  outcome: OutcomeStatus;
  qualityResult: string | null;
  humanReviewed: boolean | null;
  decision: string | null;
  valueDimension: ValueDimension | null;
  valueAmount: number | null;
  evidenceConfidence: number | null;
}

const OUTCOME_COLUMNS = 'outcome, quality_result, human_reviewed, decision, value_dimension, value_amount, evidence_confidence';

function snapshotOf(row: Record<string, unknown>): OutcomeSnapshot {
  return {
    outcome: row.outcome as OutcomeStatus,
    qualityResult: row.quality_result as string | null,
    humanReviewed: row.human_reviewed as boolean | null,
    decision: row.decision as string | null,
    valueDimension: row.value_dimension as ValueDimension | null,
    valueAmount: row.value_amount === null ? null : Number(row.value_amount),
    evidenceConfidence: row.evidence_confidence === null ? null : Number(row.evidence_confidence),
  };
}

/**
 * Outcomes of work units and their history. The current outcome sits on the work unit; each
 * change also appends a row to work_unit_outcomes (when, by whom, before, after), in the
 * same transaction, so the history is complete and reports can read any past date.
 */
@Injectable()
export class OutcomesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly workUnits: WorkUnitsService,
  ) {}

  /** Records the outcome as it stands now; returns the work unit after it. FORBIDDEN to a CLIENT on another principal's work unit. */
  async record(auth: AuthContext, input: OutcomeInput): Promise<WorkUnit> {
    const after = this.validated(input);
    if (!isUuid(input.workUnitId)) throw this.notFound(input.workUnitId);
    await this.dataSource.transaction(async (manager) => {
      const current: Record<string, unknown>[] = await manager.query(
        `SELECT id, created_by_principal_id, outcome_recorded_at, ${OUTCOME_COLUMNS} FROM work_units WHERE id = $1 AND organization_id = $2 FOR UPDATE`,
        [input.workUnitId, auth.organizationId],
      );
      if (current.length === 0) throw this.notFound(input.workUnitId);
      if (!mayChangeWorkUnit(auth, current[0].created_by_principal_id as string)) throw notYourWorkUnit(input.workUnitId, 'input.workUnitId');
      const before = current[0].outcome_recorded_at === null ? null : snapshotOf(current[0]);
      const values = [
        after.outcome,
        after.qualityResult,
        after.humanReviewed,
        after.decision,
        after.valueDimension,
        after.valueAmount,
        after.evidenceConfidence,
      ];
      // Stamped after the row lock (clock_timestamp(), not the transaction's start), so records
      // of one work unit are dated in the order they became current, even when they raced.
      const [updated]: [{ outcome_recorded_at: Date }[], number] = await manager.query(
        `UPDATE work_units SET (${OUTCOME_COLUMNS}, outcome_recorded_at, updated_at) = ($3, $4, $5, $6, $7, $8, $9, clock_timestamp(), now())
         WHERE id = $1 AND organization_id = $2 RETURNING outcome_recorded_at`,
        [input.workUnitId, auth.organizationId, ...values],
      );
      await manager.query(
        `INSERT INTO work_unit_outcomes (organization_id, work_unit_id, recorded_by_principal_id, before, ${OUTCOME_COLUMNS}, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [auth.organizationId, input.workUnitId, auth.principalId, before === null ? null : JSON.stringify(before), ...values, updated[0].outcome_recorded_at],
      );
    });
    return this.workUnits.getInOrganization(auth.organizationId, input.workUnitId, 'input.workUnitId');
  }

  /** A work unit's outcome records, oldest first. */
  async history(organizationId: string, workUnitId: string): Promise<OutcomeRecord[]> {
    return (await this.histories(organizationId, [workUnitId])).get(workUnitId) ?? [];
  }

  /** The outcome histories of these work units of the organization, oldest first, in one query (for a page of work units). */
  async histories(organizationId: string, workUnitIds: string[]): Promise<Map<string, OutcomeRecord[]>> {
    const rows: Record<string, unknown>[] = await this.dataSource.query(
      `SELECT work_unit_id, recorded_at, recorded_by_principal_id, before, ${OUTCOME_COLUMNS} FROM work_unit_outcomes
       WHERE organization_id = $1 AND work_unit_id = ANY($2::uuid[]) ORDER BY recorded_at, id`,
      [organizationId, workUnitIds.filter(isUuid)],
    );
    const byUnit = new Map<string, OutcomeRecord[]>();
    for (const row of rows) {
      const records = byUnit.get(row.work_unit_id as string) ?? [];
      records.push({
        recordedAt: row.recorded_at as Date,
        recordedById: row.recorded_by_principal_id as string,
        before: row.before === null ? null : JSON.stringify(row.before),
        after: JSON.stringify(snapshotOf(row)),
      });
      byUnit.set(row.work_unit_id as string, records);
    }
    return byUnit;
  }

  /**
   * Every work unit's outcome as of `at` (the last record at or before it), by work unit id;
   * a work unit absent from the map was PENDING then. For reports: in SQL, join the same
   * function the migration defines instead,
   *   LEFT JOIN work_unit_outcomes_as_of($org, $at) o ON o.work_unit_id = w.id
   * and read coalesce(o.outcome, 'PENDING').
   */
  async outcomesAsOf(organizationId: string, at: Date): Promise<Map<string, OutcomeSnapshot>> {
    const rows: Record<string, unknown>[] = await this.dataSource.query('SELECT * FROM work_unit_outcomes_as_of($1, $2)', [organizationId, at]);
    return new Map(rows.map((row) => [row.work_unit_id as string, snapshotOf(row)]));
  }

  private validated(input: OutcomeInput): OutcomeSnapshot {
    return {
      outcome: input.outcome,
      qualityResult: optionalText(input.qualityResult, 'input.qualityResult', { max: 1000 }),
      humanReviewed: input.humanReviewed ?? null,
      decision: optionalText(input.decision, 'input.decision', { max: 1000 }),
      valueDimension: input.valueDimension ?? null,
      valueAmount: input.valueAmount == null ? null : requireNumber(input.valueAmount, 'input.valueAmount', { min: -1e15, max: 1e15 }),
      evidenceConfidence: input.evidenceConfidence == null ? null : requireNumber(input.evidenceConfidence, 'input.evidenceConfidence', { min: 0, max: 1 }),
    };
  }

  private notFound(id: string): AppError {
    return new AppError('NOT_FOUND', `No work unit with id ${id} in your organization`, { field: 'input.workUnitId' });
  }
}
