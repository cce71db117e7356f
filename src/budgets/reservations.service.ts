import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { AuthContext } from '../auth/auth-context';
import { uuidFrom } from '../common/derived-id';
import { AppError } from '../common/errors/app-error';
import { isUuid, requireInt, requireNumber, requirePrintableAscii } from '../common/validation/validate';
import { ComputeEvent, eventLimits, MAX_COST, MAX_TOKENS, prepareComputeEvent, requireName } from '../compute-usage/compute-events';
import { APP_CONFIG, AppConfig } from '../config/env';
import { budgetIdOf, budgetSubjects, BudgetStore, ReserveResult } from '../lease-engine/budget-store';
import { ComputeLedgerWriter } from '../ledger/compute-ledger-writer';
import { WorkUnitsService } from '../work-units/work-units.service';
import { BudgetClock } from '../budget-engine/budget-clock';
import { BudgetEpochs } from '../budget-engine/budget-epochs';
import { BudgetMetricsService } from './budget-metrics.service';
import { fromMicros } from '../budget-engine/budget-spend.service';
import { BudgetStateService } from '../budget-engine/budget-state.service';
import { ComputeReservation, ReservationState } from './budget.model';
import { ComputeReservationEntity } from './compute-reservation.entity';
import { ReserveComputeInput } from './dto/budget.inputs';

export const DEFAULT_RESERVATION_SECONDS = 300;
export const MIN_RESERVATION_SECONDS = 5;
export const MAX_RESERVATION_SECONDS = 3600;

// The price in force now of a model, for pricing a reservation's bounds.
const PRICE_NOW = `
  SELECT input_per_million::float8 AS input, output_per_million::float8 AS output FROM model_prices
  WHERE organization_id = $1 AND provider = $2 AND model = $3 AND effective_from <= now()
  ORDER BY effective_from DESC, id DESC LIMIT 1`;

/** A settlement's usage: a compute event whose provider, model and work unit default to the reservation's. */
export type SettledUsage = Omit<ComputeEvent, 'provider' | 'model'> & { provider?: string | null; model?: string | null };

type Holder = Pick<AuthContext, 'organizationId' | 'principalId' | 'team' | 'role'>;

/**
 * Compute reservations: reserve before a model call (one atomic check-and-hold in Redis over
 * every budget that applies, recorded in PostgreSQL before it is acknowledged), settle after
 * it (the usage goes into the ledger as recordComputeUsage writes it, its cost into `spent`,
 * the rest of the hold is released), or cancel. Expiry is the worker's (budget-sweep.service.ts).
 */
@Injectable()
export class ReservationsService {
  private readonly logger = new Logger(ReservationsService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: BudgetStore,
    private readonly state: BudgetStateService,
    private readonly epochs: BudgetEpochs,
    private readonly clock: BudgetClock,
    private readonly writer: ComputeLedgerWriter,
    private readonly workUnits: WorkUnitsService,
    private readonly metrics: BudgetMetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async reserve(auth: Holder, input: ReserveComputeInput): Promise<ComputeReservation> {
    const provider = requireName(input.provider, 'input.provider');
    const model = requireName(input.model, 'input.model');
    const maxInputTokens = requireInt(input.maxInputTokens, 'input.maxInputTokens', { min: 0, max: MAX_TOKENS });
    const maxOutputTokens = requireInt(input.maxOutputTokens, 'input.maxOutputTokens', { min: 0, max: MAX_TOKENS });
    const seconds =
      input.reservationSeconds == null
        ? DEFAULT_RESERVATION_SECONDS
        : requireInt(input.reservationSeconds, 'input.reservationSeconds', { min: MIN_RESERVATION_SECONDS, max: MAX_RESERVATION_SECONDS });
    const idempotencyKey = input.idempotencyKey == null ? null : requirePrintableAscii(input.idempotencyKey, 'input.idempotencyKey', 255);
    const workUnitId = input.workUnitId ?? null;
    if (workUnitId !== null && !(await this.workUnits.existing(auth.organizationId, [workUnitId])).has(workUnitId)) {
      throw new AppError('NOT_FOUND', `No work unit with id ${workUnitId} in your organization; create it with upsertWorkUnit`, { field: 'input.workUnitId' });
    }
    const amount =
      input.amount == null
        ? await this.price(auth.organizationId, provider, model, maxInputTokens, maxOutputTokens)
        : requireNumber(input.amount, 'input.amount', { min: 0, max: MAX_COST });
    // A hold rounds up: it never holds less than the call may cost.
    const amountMicros = Math.ceil(Math.round(amount * 1e9) / 1000);
    const requestHash = createHash('sha256')
      .update(JSON.stringify([provider, model, maxInputTokens, maxOutputTokens, input.amount ?? null, workUnitId, seconds]))
      .digest('hex');
    const id = idempotencyKey ? uuidFrom(`${auth.organizationId}|${auth.principalId}|reservation|${idempotencyKey}`) : randomUUID();
    if (idempotencyKey) {
      const earlier = await this.find(auth.organizationId, id);
      if (earlier) return this.sameRequestOrConflict(earlier, requestHash);
    }
    const subjects = budgetSubjects({ principalId: auth.principalId, team: auth.team, workUnitId });
    for (let attempt = 1; ; attempt++) {
      const result = await this.holdInRedis(auth.organizationId, { reservationId: id, amount: amountMicros, reservationMs: seconds * 1000, subjects });
      if (result.status === 'BUDGET_EXHAUSTED') {
        this.metrics.reservations.inc({ result: 'refused' });
        const remaining = fromMicros(result.remaining);
        throw new AppError(
          'BUDGET_EXHAUSTED',
          `Budget ${result.budgetId} has ${remaining} left of its limit, less than the ${amount} this call may cost; wait for its next period, lower maxOutputTokens, or ask an admin to raise the limit`,
          { budgetId: result.budgetId, remaining, requested: amount },
        );
      }
      const grantedAtMs = result.reservation.expiresAtMs - seconds * 1000;
      const recorded = await this.record(auth, { id, provider, model, workUnitId, requestHash, result, grantedAtMs, attempt });
      if (recorded === 'RETRY') continue;
      if (result.status === 'OK') this.metrics.reservations.inc({ result: 'granted' });
      return idempotencyKey ? this.sameRequestOrConflict(recorded, requestHash) : toView(recorded);
    }
  }

  /**
   * Settles with the call's real usage: written to the ledger exactly as recordComputeUsage
   * would (same eventId rules), its cost charged to the reservation's budgets in full (even
   * above the hold), the rest released. Settling again with the same eventId answers the
   * settled reservation. An EXPIRED reservation may still be settled: the call was made.
   */
  async settle(auth: Holder, reservationId: string, usage: SettledUsage): Promise<ComputeReservation> {
    const existing = await this.own(auth, reservationId);
    const row = prepareComputeEvent(
      { ...usage, provider: usage.provider ?? existing.provider, model: usage.model ?? existing.model, workUnitId: usage.workUnitId ?? existing.workUnitId },
      'usage',
      eventLimits(this.config),
    );
    if (row.workUnitId && !(await this.workUnits.existing(auth.organizationId, [row.workUnitId])).has(row.workUnitId)) {
      throw new AppError('NOT_FOUND', `No work unit with id ${row.workUnitId} in your organization`, { field: 'usage.workUnitId' });
    }
    const settled = await this.dataSource.transaction(async (manager) => {
      // The epoch row before the reservation's: the order a rebuild takes them in.
      const epoch = await this.epochs.shared(manager, auth.organizationId);
      const reservation = await this.lock(manager, auth, reservationId);
      // Settled before with this event: answered again, and applied in Redis again if it still
      // holds the reservation (the process that settled it died before Redis saw it).
      if (reservation.state === 'SETTLED' && reservation.settleEventKey === row.eventKey)
        return { reservation, epoch, charge: chargeOf(reservation), onlyIfHeld: true };
      if (reservation.state !== 'OPEN' && reservation.state !== 'EXPIRED') throw notOpen(reservation);
      const inserted = await this.writer.appendCompute(manager, { organizationId: auth.organizationId, principalId: auth.principalId, rows: [row] });
      // Micro-units, as PostgreSQL rounds every cost the budgets sum.
      let micros: number | null;
      const charged = inserted.has(row.eventKey);
      if (charged) micros = inserted.get(row.eventKey)!;
      else {
        const recorded = await this.writer.recordedHashes(manager, auth.organizationId, [row.eventKey]);
        if (recorded.get(row.eventKey) !== row.contentHash) {
          throw AppError.badInput('usage.eventId', `eventId ${usage.eventId} was recorded before with other content; settle with a new eventId`);
        }
        // Recorded before without the reservation: its cost is in `spent` already.
        const [earlier]: { micros: number | null }[] = await manager.query(
          `SELECT round(cost * 1000000)::float8 AS micros FROM ledger_entries WHERE organization_id = $1 AND event_key = $2 AND kind = 'COMPUTE' LIMIT 1`,
          [auth.organizationId, row.eventKey],
        );
        micros = earlier?.micros ?? null;
      }
      Object.assign(reservation, {
        state: 'SETTLED',
        endedAt: new Date(),
        settleEventKey: row.eventKey,
        settledCostMicros: micros === null ? null : String(micros),
        charged,
      });
      await manager.save(ComputeReservationEntity, reservation);
      return { reservation, epoch, charge: chargeOf(reservation), onlyIfHeld: false };
    });
    if (settled.epoch !== null) await this.settleInRedis(settled.reservation, settled.epoch, settled.charge, settled.onlyIfHeld);
    return toView(settled.reservation);
  }

  /** Releases an OPEN reservation's hold at once; cancelling a cancelled one answers it again. */
  async cancel(auth: Holder, reservationId: string): Promise<ComputeReservation> {
    const reservation = await this.dataSource.transaction(async (manager) => {
      const found = await this.lock(manager, auth, reservationId);
      if (found.state === 'CANCELLED') return found;
      if (found.state !== 'OPEN') throw notOpen(found);
      Object.assign(found, { state: 'CANCELLED', endedAt: new Date() });
      return manager.save(ComputeReservationEntity, found);
    });
    await this.store.release(auth.organizationId, [reservation.id]).catch((err: Error) => {
      // Its hold runs out with the reservation's time in Redis anyway.
      this.logger.warn(
        `Cancelled reservation ${reservation.id} not released in Redis now (${err.message}); it lapses at ${reservation.expiresAt.toISOString()}`,
      );
    });
    return toView(reservation);
  }

  /** reservation(id): its holder, ADMIN and VIEWER; null for anyone else and for other organizations' ids. */
  async visible(auth: Holder, id: string): Promise<ComputeReservation | null> {
    const found = await this.find(auth.organizationId, id);
    if (!found || (auth.role === 'CLIENT' && found.principalId !== auth.principalId)) return null;
    return toView(found);
  }

  private async holdInRedis(
    organizationId: string,
    hold: { reservationId: string; amount: number; reservationMs: number; subjects: string[] },
  ): Promise<ReserveResult & { status: 'OK' | 'REPLAYED' | 'BUDGET_EXHAUSTED' }> {
    for (let attempt = 1; ; attempt++) {
      let result: ReserveResult;
      try {
        result = await this.store.reserve({ organizationId, ...hold, periods: this.clock.periods() });
      } catch (err) {
        this.logger.warn(`Compute reservation refused: Redis failed (${(err as Error).message})`);
        throw AppError.unavailable('The compute budgets cannot be checked now (Redis is unreachable); retry in a moment', 2);
      }
      if (result.status !== 'UNAVAILABLE') return result;
      // The budget state is missing (Redis restarted or flushed): rebuilt from PostgreSQL, then once more.
      if (attempt >= 2) throw AppError.unavailable('The compute budgets are being restored; retry in a moment', 1);
      await this.state.ensureOrUnavailable(organizationId);
    }
  }

  /**
   * Writes the grant before it is acknowledged, only while the organization's epoch is the
   * grant's and no recorded grant has a seq as high (else Redis lost or rolled back its state:
   * the grant is dropped, the state rebuilt and the reservation tried again).
   */
  private async record(
    auth: Holder,
    grant: {
      id: string;
      provider: string;
      model: string;
      workUnitId: string | null;
      requestHash: string;
      result: ReserveResult & { status: 'OK' | 'REPLAYED' };
      grantedAtMs: number;
      attempt: number;
    },
  ): Promise<ComputeReservationEntity | 'RETRY'> {
    const { reservation, epoch } = grant.result;
    let outcome: 'OK' | 'STALE' | 'ROLLED_BACK';
    try {
      outcome = await this.dataSource.transaction(async (manager) => {
        const current = await this.epochs.shared(manager, auth.organizationId);
        if (current !== epoch) return 'STALE';
        // Redis's counter and clock rise together: a grant recorded as made earlier with a seq
        // as high as this one's shows a counter that went back.
        const [{ taken }]: { taken: boolean }[] = await manager.query(
          'SELECT EXISTS (SELECT 1 FROM compute_reservations WHERE organization_id = $1 AND epoch = $2 AND seq >= $3 AND granted_at < $4 AND id <> $5) AS taken',
          [auth.organizationId, epoch, reservation.seq, new Date(grant.grantedAtMs), grant.id],
        );
        if (taken) return 'ROLLED_BACK';
        await manager.query(
          `INSERT INTO compute_reservations (id, organization_id, principal_id, team, work_unit_id, state, provider, model, amount_micros, holds, seq, epoch, request_hash, expires_at, granted_at)
           VALUES ($1, $2, $3, $4, $5, 'OPEN', $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (id) DO NOTHING`,
          [
            grant.id,
            auth.organizationId,
            auth.principalId,
            auth.team,
            grant.workUnitId,
            grant.provider,
            grant.model,
            String(reservation.amount),
            reservation.holds,
            String(reservation.seq),
            epoch,
            grant.requestHash,
            new Date(reservation.expiresAtMs),
            new Date(grant.grantedAtMs),
          ],
        );
        return 'OK';
      });
    } catch (err) {
      await this.store.release(auth.organizationId, [grant.id]).catch(() => undefined);
      this.logger.warn(`Compute reservation ${grant.id} not recorded (${(err as Error).message}); its hold was released`);
      throw AppError.unavailable('The reservation could not be recorded; retry (with the same idempotencyKey)', 1);
    }
    if (outcome === 'OK') return (await this.find(auth.organizationId, grant.id))!;
    await this.store.release(auth.organizationId, [grant.id]).catch(() => undefined);
    if (grant.attempt >= 3) throw AppError.unavailable('The compute budgets are being restored; retry in a moment', 1);
    if (outcome === 'ROLLED_BACK') await this.state.rebuildAfterRollback(auth.organizationId, epoch, `grant seq ${reservation.seq} was recorded before`);
    else await this.state.ensureOrUnavailable(auth.organizationId);
    return 'RETRY';
  }

  private async settleInRedis(reservation: ComputeReservationEntity, epoch: string, cost: number, onlyIfHeld: boolean): Promise<void> {
    const holds = reservation.holds;
    try {
      const applied = await this.store.settle(reservation.organizationId, { reservationId: reservation.id, cost, epoch, holds, onlyIfHeld });
      if (applied === 'STALE') await this.state.ensure(reservation.organizationId);
    } catch (err) {
      this.logger.warn(`Settlement of reservation ${reservation.id} not applied in Redis (${(err as Error).message}); the budgets will be rebuilt`);
      await this.epochs.raise(reservation.organizationId, epoch).catch(() => undefined);
    }
  }

  private async price(organizationId: string, provider: string, model: string, inputTokens: number, outputTokens: number): Promise<number> {
    const [price]: { input: number; output: number }[] = await this.dataSource.query(PRICE_NOW, [organizationId, provider, model]);
    if (!price) {
      throw AppError.badInput('input.amount', `No price for ${provider} ${model} is in force: give input.amount, or have an admin set one with setModelPrice`);
    }
    return (inputTokens * price.input + outputTokens * price.output) / 1_000_000;
  }

  private sameRequestOrConflict(earlier: ComputeReservationEntity, requestHash: string): ComputeReservation {
    if (earlier.requestHash !== requestHash) {
      throw new AppError('IDEMPOTENCY_CONFLICT', 'This idempotencyKey was used before for a reservation with other arguments; use a new key', {
        field: 'input.idempotencyKey',
      });
    }
    return toView(earlier);
  }

  private find(organizationId: string, id: string): Promise<ComputeReservationEntity | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return this.dataSource.getRepository(ComputeReservationEntity).findOneBy({ id, organizationId });
  }

  /** Settle and cancel: the holder only; anyone else NOT_FOUND. */
  private async own(auth: Holder, id: string): Promise<ComputeReservationEntity> {
    const found = await this.find(auth.organizationId, id);
    if (!found || found.principalId !== auth.principalId)
      throw new AppError('NOT_FOUND', `No compute reservation with id ${id} of yours`, { field: 'reservationId' });
    return found;
  }

  private async lock(manager: EntityManager, auth: Holder, id: string): Promise<ComputeReservationEntity> {
    const found = isUuid(id)
      ? await manager.findOne(ComputeReservationEntity, {
          where: { id, organizationId: auth.organizationId, principalId: auth.principalId },
          lock: { mode: 'pessimistic_write' },
        })
      : null;
    if (!found) throw new AppError('NOT_FOUND', `No compute reservation with id ${id} of yours`, { field: 'reservationId' });
    return found;
  }
}

/** What a settled reservation charged its budgets, micro-units (0: its usage was recorded, and charged, before). */
export function chargeOf(reservation: Pick<ComputeReservationEntity, 'charged' | 'settledCostMicros'>): number {
  return reservation.charged && reservation.settledCostMicros !== null ? Number(reservation.settledCostMicros) : 0;
}

function notOpen(reservation: ComputeReservationEntity): AppError {
  return new AppError('LEASE_NOT_ACTIVE', `Reservation ${reservation.id} is ${reservation.state}, not OPEN; make a new reservation`, {
    state: reservation.state,
  });
}

export function toView(entity: ComputeReservationEntity): ComputeReservation {
  return {
    id: entity.id,
    state: entity.state as ReservationState,
    amount: fromMicros(entity.amountMicros),
    expiresAt: entity.expiresAt,
    settledCost: entity.settledCostMicros === null ? null : fromMicros(entity.settledCostMicros),
    organizationId: entity.organizationId,
    principalId: entity.principalId,
    workUnitId: entity.workUnitId,
    budgetIds: [...new Set(entity.holds.map(budgetIdOf))],
  };
}
