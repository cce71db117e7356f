import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AuthContext } from '../auth/auth-context';
import { BudgetSpendService } from '../budget-engine/budget-spend.service';
import { AppError } from '../common/errors/app-error';
import { APP_CONFIG, AppConfig } from '../config/env';
import { ComputeLedgerWriter, ComputeRow } from '../ledger/compute-ledger-writer';
import { WorkUnitsService } from '../work-units/work-units.service';
import { ComputeEvent, dedupeBatch, eventLimits, prepareComputeEvent } from './compute-events';
import { ComputeUsageResult } from './compute-usage.model';

export const MAX_BATCH = 1000;
const DEADLOCK = '40P01';

export interface EventRejection {
  index: number;
  message: string;
}

type Caller = Pick<AuthContext, 'organizationId' | 'principalId' | 'team'>;

/**
 * Compute usage into the ledger. A batch is checked whole before anything is written, then
 * written in one transaction (one statement for keys and rows), so an acknowledged batch is
 * committed in full and a refused one leaves nothing behind.
 */
@Injectable()
export class ComputeUsageService {
  private readonly logger = new Logger(ComputeUsageService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly writer: ComputeLedgerWriter,
    private readonly workUnits: WorkUnitsService,
    private readonly budgets: BudgetSpendService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** All or nothing: the first invalid event refuses the batch with BAD_USER_INPUT naming events[i].<field>. */
  async record(auth: Caller, events: ComputeEvent[]): Promise<ComputeUsageResult> {
    if (events.length === 0) throw AppError.badInput('events', 'events must hold at least one event');
    if (events.length > MAX_BATCH) throw AppError.badInput('events', `events may hold at most ${MAX_BATCH} events, got ${events.length}`);
    const limits = eventLimits(this.config);
    const rows = events.map((event, i) => prepareComputeEvent(event, `events[${i}]`, limits));
    const known = await this.workUnits.existing(
      auth.organizationId,
      rows.flatMap((row) => (row.workUnitId ? [row.workUnitId] : [])),
    );
    const unknown = rows.findIndex((row) => row.workUnitId !== null && !known.has(row.workUnitId));
    if (unknown >= 0) throw AppError.badInput(`events[${unknown}].workUnitId`, `No work unit with id ${rows[unknown].workUnitId} in your organization`);
    return this.write(auth, rows);
  }

  /**
   * Event by event (for OTLP): invalid events are left out and reported by index, the valid
   * ones are written together. Work units must already be resolved to ids of the caller.
   */
  async recordEach(auth: Caller, events: ComputeEvent[]): Promise<{ result: ComputeUsageResult; rejected: EventRejection[] }> {
    const limits = eventLimits(this.config);
    const rows: ComputeRow[] = [];
    const rejected: EventRejection[] = [];
    events.forEach((event, index) => {
      try {
        rows.push(prepareComputeEvent(event, `spans[${index}]`, limits));
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        rejected.push({ index, message: err.message });
      }
    });
    const result: ComputeUsageResult = { accepted: 0, duplicates: 0, conflicts: 0 };
    for (let start = 0; start < rows.length; start += MAX_BATCH) {
      const part = await this.write(auth, rows.slice(start, start + MAX_BATCH));
      result.accepted += part.accepted;
      result.duplicates += part.duplicates;
      result.conflicts += part.conflicts;
    }
    return { result, rejected };
  }

  private async write(auth: Caller, rows: ComputeRow[]): Promise<ComputeUsageResult> {
    const batch = dedupeBatch(rows);
    const { inserted, recorded, epoch } = await this.retryOnDeadlock(() =>
      this.dataSource.transaction(async (manager) => {
        const epoch = await this.budgets.epochFor(manager, auth.organizationId);
        const inserted = await this.writer.appendCompute(manager, { organizationId: auth.organizationId, principalId: auth.principalId, rows: batch.rows });
        const others = batch.rows.filter((row) => !inserted.has(row.eventKey)).map((row) => row.eventKey);
        return { inserted, epoch, recorded: await this.writer.recordedHashes(manager, auth.organizationId, others) };
      }),
    );
    await this.budgets.charge(
      auth,
      epoch,
      batch.rows
        .filter((row) => inserted.has(row.eventKey))
        .map((row) => ({ costMicros: inserted.get(row.eventKey)!, occurredAt: row.occurredAt, workUnitId: row.workUnitId })),
    );
    const result: ComputeUsageResult = { accepted: inserted.size, duplicates: batch.duplicates, conflicts: batch.conflicts };
    const conflicting = [...batch.conflictingEventKeys];
    for (const row of batch.rows) {
      if (inserted.has(row.eventKey)) continue;
      if (recorded.get(row.eventKey) === row.contentHash) result.duplicates += 1;
      else {
        result.conflicts += 1;
        conflicting.push(row.eventKey);
      }
    }
    if (conflicting.length > 0) {
      // Event ids and counts only: never the caller's key or the events' figures.
      this.logger.warn(
        { organizationId: auth.organizationId, conflicts: conflicting.length, eventKeys: conflicting.slice(0, 20) },
        'Compute events replayed with other content were not recorded',
      );
    }
    return result;
  }

  /** Concurrent batches take row locks in one order, but a deadlock is retried rather than answered. */
  private async retryOnDeadlock<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if ((err as { code?: string }).code !== DEADLOCK || attempt >= 3) throw err;
      }
    }
  }
}
