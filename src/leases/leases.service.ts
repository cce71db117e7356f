import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AppsService } from '../apps/apps.service';
import type { AuthContext } from '../auth/auth-context';
import { uuidFrom } from '../common/derived-id';
import { AppError } from '../common/errors/app-error';
import { optionalText, requireInt, requirePrintableAscii, requireText } from '../common/validation/validate';
import { APP_CONFIG, AppConfig } from '../config/env';
import { PoolEventsService } from '../pools/pool-events.service';
import type { PoolEntity } from '../pools/pool.entity';
import { MAX_BORROW_HOURS, MIN_LEASE_SECONDS, PoolsService } from '../pools/pools.service';
import { PrincipalsService } from '../principals/principals.service';
import { WorkUnitsService } from '../work-units/work-units.service';
import { CheckoutHooks } from './checkout-hooks';
import { queueFullError, refusalError } from './checkout-refusal';
import { BorrowInput } from './dto/borrow.input';
import { CheckoutInput } from './dto/checkout.input';
import { FairQueueService } from './fair-queue.service';
import { holdsLease, mayActOnLease } from './lease-access';
import { LeaseEntity } from './lease.entity';
import { HeartbeatAnswer, LeaseHeartbeats } from './lease-heartbeats';
import { LeaseMetricsService } from './lease-metrics.service';
import { DenialRecordsService } from './denial-records.service';
import { LeaseRecordsService, NewLease } from './lease-records.service';
import { LeaseStore } from '../lease-engine/lease-store';
import { CheckoutResult, Granted, Refused } from '../lease-engine/lease-store.types';
import type { LeaseViewSource } from './lease-view';
import { PoolMirror } from './pool-mirror';
import { PoolStateService } from './pool-state.service';

const MAX_WAIT_SECONDS = 300;

/** What check-out and borrow ask of take(), validated. */
interface TakeInput {
  app: string;
  workUnitId?: string | null;
  idempotencyKey?: string | null;
  host?: string | null;
  onBehalfOf?: string | null;
  leaseSeconds: number;
  waitSeconds: number;
  borrowed: boolean;
}

/**
 * Check-out, heartbeat, check-in and revocation. The order of the two stores keeps the
 * promises: a grant is written to PostgreSQL before the client hears of it (and undone in
 * Redis if that write fails); an end is written to PostgreSQL before Redis frees the credits.
 */

/** The most leases one heartbeats call may name (the contract's bound). */
export const MAX_BATCH_HEARTBEATS = 500;

@Injectable()
export class LeasesService implements OnApplicationShutdown {
  private readonly logger = new Logger(LeasesService.name);
  private readonly heartbeats = new LeaseHeartbeats({
    store: this.store,
    records: this.records,
    rebuilding: (poolId) => this.rebuilding(poolId),
    lost: (poolId) => {
      this.poolState.requestLostCheck(poolId);
      return AppError.unavailable('The pool is being rebuilt after a storage failover; retry shortly', 1);
    },
    changed: (poolId) => this.events.changed(poolId),
  });

  constructor(
    private readonly store: LeaseStore,
    private readonly records: LeaseRecordsService,
    private readonly denialRecords: DenialRecordsService,
    private readonly pools: PoolsService,
    private readonly apps: AppsService,
    private readonly principals: PrincipalsService,
    private readonly poolState: PoolStateService,
    private readonly mirror: PoolMirror,
    private readonly metrics: LeaseMetricsService,
    private readonly events: PoolEventsService,
    private readonly queue: FairQueueService,
    private readonly workUnits: WorkUnitsService,
    private readonly hooks: CheckoutHooks,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async checkout(auth: AuthContext, input: CheckoutInput, signal?: AbortSignal): Promise<LeaseEntity> {
    const pool = await this.pools.getForCheckout(auth.organizationId, input.poolId);
    const leaseSeconds = requireInt(input.leaseSeconds ?? pool.defaultLeaseSeconds, 'input.leaseSeconds', {
      min: MIN_LEASE_SECONDS,
      max: pool.maxLeaseSeconds,
    });
    const waitSeconds = requireInt(input.waitSeconds ?? 0, 'input.waitSeconds', { min: 0, max: MAX_WAIT_SECONDS });
    return this.take(auth, pool, { ...input, leaseSeconds, waitSeconds, borrowed: false }, signal);
  }

  /**
   * A check-out for days, to run offline: no heartbeat, its own draw (never shared), its
   * credits held until borrowedUntil or its return, and a proof that lasts as long.
   */
  async borrow(auth: AuthContext, input: BorrowInput): Promise<LeaseEntity> {
    const pool = await this.pools.getForCheckout(auth.organizationId, input.poolId);
    const hours = requireInt(input.hours, 'input.hours', { min: 1, max: Number.MAX_SAFE_INTEGER });
    if (pool.maxBorrowHours === 0) {
      throw new AppError('BORROW_NOT_ALLOWED', `Pool ${pool.name} does not allow borrowing; an admin can set its maxBorrowHours (1 to ${MAX_BORROW_HOURS})`, {
        field: 'input.poolId',
        maxBorrowHours: 0,
      });
    }
    if (hours > pool.maxBorrowHours) {
      throw new AppError('BORROW_NOT_ALLOWED', `Pool ${pool.name} allows borrowing for at most ${pool.maxBorrowHours} hours; ask for fewer`, {
        field: 'input.hours',
        maxBorrowHours: pool.maxBorrowHours,
      });
    }
    const host = requireText(input.host, 'input.host', { max: 255 });
    return this.take(auth, pool, { ...input, host, leaseSeconds: hours * 3600, waitSeconds: 0, onBehalfOf: null, borrowed: true });
  }

  /** Check-out and borrow: the grant, its record, or the refusal. */
  private async take(auth: AuthContext, pool: PoolEntity, input: TakeInput, signal?: AbortSignal): Promise<LeaseEntity> {
    const app = await this.apps.getByKey(auth.organizationId, pool.id, input.app);
    const { leaseSeconds, waitSeconds, borrowed } = input;
    const idempotencyKey = input.idempotencyKey ? requirePrintableAscii(input.idempotencyKey, 'input.idempotencyKey', 255) : null;
    const host = optionalText(input.host, 'input.host', { max: 255 });
    if (input.workUnitId && !(await this.workUnits.existing(auth.organizationId, [input.workUnitId])).has(input.workUnitId)) {
      throw new AppError('NOT_FOUND', `No work unit with id ${input.workUnitId} in your organization; create it with upsertWorkUnit`, {
        field: 'input.workUnitId',
      });
    }
    const holder = await this.holder(auth, input.onBehalfOf);
    // What a retry with the same idempotency key must repeat (only kept when there is a key);
    // a borrow is told apart from a check-out of the same length.
    const requestHash = idempotencyKey
      ? createHash('sha256')
          .update(JSON.stringify([pool.id, app.id, input.workUnitId ?? null, leaseSeconds, host, holder.id, ...(borrowed ? ['borrow'] : [])]))
          .digest('hex')
      : null;

    if (idempotencyKey && requestHash) {
      const earlier = await this.records.findByIdempotencyKey(auth.organizationId, auth.keyId, idempotencyKey);
      if (earlier) return this.sameRequestOrConflict(earlier, requestHash);
    }
    // The lease id doubles as the Redis request id: a command ioredis re-sends after a
    // reconnect carries the same id, and with an idempotency key the id is derived from it
    // (and the arguments), so concurrent retries meet in the script and get one grant. It is
    // also the request's ticket in the fair queue.
    const leaseId = idempotencyKey ? uuidFrom(`${auth.organizationId}|${auth.keyId}|${idempotencyKey}|${requestHash}`) : randomUUID();
    // Such a lease id is granted again when a retry finds its earlier grant undone or expired:
    // a fresh draw id per request keeps that grant's draw (and its end event) apart.
    const drawId = idempotencyKey ? randomUUID() : undefined;
    const queueBounds = { perPrincipal: this.config.queueMaxPerPrincipal, perPool: this.config.queueMaxPerPool };
    const request = {
      poolId: pool.id,
      appId: app.id,
      principalId: holder.id,
      team: holder.team,
      host,
      workUnitId: input.workUnitId ?? null,
      requestId: leaseId,
      leaseId,
      drawId,
      ownDraw: borrowed,
      leaseMs: leaseSeconds * 1000,
      queueBounds,
    };
    const attempt = (waitMs: number): Promise<CheckoutResult> => this.store.checkout({ ...request, waitMs });
    const { result, timedOut } =
      waitSeconds > 0
        ? await this.queue.waitForCredits({ poolId: pool.id, leaseId, principalId: holder.id, waitMs: waitSeconds * 1000, signal }, attempt)
        : { result: await attempt(0), timedOut: false };
    // A waiter whose client went away is refused like one that did not wait: the denial is
    // recorded (for right-sizing) with the reason of the refusal it last had.
    const who = { organizationId: auth.organizationId, poolId: pool.id, appId: app.id, principalId: holder.id, team: holder.team };
    switch (result.status) {
      case 'GRANTED':
        return this.record(result, {
          ...who,
          id: result.leaseId,
          requestedByPrincipalId: auth.principalId,
          apiKeyId: auth.keyId,
          workUnitId: input.workUnitId ?? null,
          host,
          drawId: result.drawId,
          credits: result.credits,
          leaseSeconds,
          fencingToken: result.fencingToken,
          epoch: epochOf(result.fencingToken),
          acquiredAt: new Date(result.acquiredAtMs),
          expiresAt: new Date(result.expiresAtMs),
          // Redis's clock set the expiry: a borrowed lease ends then, and no heartbeat moves it.
          borrowedUntil: borrowed ? new Date(result.expiresAtMs) : null,
          idempotencyKey,
          requestHash,
        });
      case 'POOL_EXHAUSTED':
      case 'GROUP_LIMIT_REACHED':
        return this.refuse(result, who, timedOut ? waitSeconds : null);
      case 'QUEUE_FULL':
        // A bound against floods, not unserved demand: counted, not recorded as a denial.
        this.metrics.denials.inc({ pool: pool.id, reason: 'RATE_LIMITED' });
        throw queueFullError(result);
      case 'UNAVAILABLE':
        throw this.rebuilding(pool.id);
      default:
        // UNKNOWN_APP: the app's mirror write has not reached Redis (or failed); Redis is the
        // one source of the app's cost and scope, so the pool mirror writes it again.
        this.mirror.requestResync(pool.id);
        throw AppError.unavailable(`App ${app.key} is not yet live in pool ${pool.name}; retry shortly`, 1);
    }
  }

  /** Needs only Redis and the key: see lease-heartbeats.ts. */
  heartbeat(auth: AuthContext, leaseId: string, idle: boolean): Promise<LeaseViewSource> {
    return this.heartbeats.beat(auth, leaseId, idle);
  }

  /** Up to MAX_BATCH_HEARTBEATS leases, each answered on its own; one Redis call per pool (lease-heartbeats.ts). */
  heartbeatMany(auth: AuthContext, leaseIds: string[], idle: boolean): Promise<HeartbeatAnswer[]> {
    if (leaseIds.length === 0) throw AppError.badInput('leaseIds', 'leaseIds must name at least one lease');
    if (leaseIds.length > MAX_BATCH_HEARTBEATS) {
      throw AppError.badInput(
        'leaseIds',
        `At most ${MAX_BATCH_HEARTBEATS} leases per heartbeats call (${leaseIds.length} given); split them into several calls`,
      );
    }
    return this.heartbeats.beatMany(auth, leaseIds, idle);
  }

  /** Heartbeats waiting to be written to PostgreSQL are written before the process exits. */
  onApplicationShutdown(): Promise<void> {
    return this.heartbeats.close();
  }

  /** Idempotent: an ended lease is returned as it is, whatever ended it. */
  async checkin(auth: AuthContext, leaseId: string): Promise<LeaseEntity> {
    await this.heartbeats.beforeEnd(leaseId);
    // The common case in one statement; anything else (not yours, ended, run out) is read and answered below.
    const ended = await this.records.endIfActive({
      organizationId: auth.organizationId,
      leaseId,
      principalId: auth.principalId,
      anyHolder: auth.role === 'ADMIN',
      state: 'RELEASED',
      reason: null,
    });
    if (ended) return this.freed(ended);
    const lease = await this.ownLease(auth, leaseId);
    return this.end(lease, 'RELEASED', null);
  }

  /** The early return of a borrowed lease: a check-in, refused (BAD_USER_INPUT) for a lease that was not borrowed. */
  async returnBorrowed(auth: AuthContext, leaseId: string): Promise<LeaseEntity> {
    const lease = await this.ownLease(auth, leaseId);
    if (!lease.borrowedUntil) {
      throw AppError.badInput('leaseId', `Lease ${leaseId} was checked out, not borrowed; check it in with checkin`);
    }
    return this.checkin(auth, leaseId);
  }

  async revoke(auth: AuthContext, leaseId: string, reason: string | null): Promise<LeaseEntity> {
    const why = optionalText(reason, 'reason', { max: 500 }) ?? 'revoked';
    await this.heartbeats.beforeEnd(leaseId);
    const ended = await this.records.endIfActive({
      organizationId: auth.organizationId,
      leaseId,
      principalId: auth.principalId,
      anyHolder: true,
      state: 'REVOKED',
      reason: why,
    });
    if (ended) return this.freed(ended);
    const lease = await this.records.findInOrganization(auth.organizationId, leaseId);
    if (!lease) throw new AppError('NOT_FOUND', `No lease with id ${leaseId} in your organization`, { field: 'leaseId' });
    return this.end(lease, 'REVOKED', why);
  }

  /** A lease of the organization by id, whoever holds it: for verifyLease, which any key of the organization may ask. */
  leaseInOrganization(organizationId: string, id: string): Promise<LeaseEntity | null> {
    return this.records.findInOrganization(organizationId, id);
  }

  /** The organization's revoked borrowed leases whose proofs are still valid, or were within the last hour: for the revocation list. */
  revokedBorrowed(organizationId: string): Promise<{ id: string; revokedAt: Date; borrowedUntil: Date }[]> {
    return this.records.revokedBorrowed(organizationId);
  }

  /** Who asked for each of these leases (the holder, or a SERVICE on the holder's behalf), in one query: for proofs. */
  requestersOf(ids: string[]): Promise<Map<string, string>> {
    return this.records.requestersOf(ids);
  }

  /** A lease the caller may see: ADMIN and VIEWER see the organization's, CLIENT its own. */
  async visibleLease(auth: AuthContext, id: string): Promise<LeaseEntity | null> {
    const lease = await this.records.findInOrganization(auth.organizationId, id);
    if (!lease || (auth.role === 'CLIENT' && !holdsLease(auth, lease))) return null;
    return lease;
  }

  private async end(lease: LeaseEntity, state: 'RELEASED' | 'REVOKED', reason: string | null): Promise<LeaseEntity> {
    if (lease.state !== 'ACTIVE') return lease;
    const ended = await this.records.end(lease, state, reason);
    return ended.state === state ? this.freed(ended) : ended;
  }

  /** Frees in Redis the credits of a lease that PostgreSQL has just recorded as ended (checked in or revoked). */
  private async freed(ended: LeaseEntity): Promise<LeaseEntity> {
    this.heartbeats.ended(ended.id);
    // A revoked borrowed lease keeps its credits until its borrowedUntil: the tool may still be
    // running offline on its proof. Redis lets it expire then, like any lease.
    if (ended.state === 'REVOKED' && ended.borrowedUntil) {
      this.events.changed(ended.poolId);
      return ended;
    }
    // PostgreSQL already says it ended; if Redis cannot free the credits now, they come
    // back at the lease's expiry: under-use, never over-use. A borrowed lease returned early
    // frees its credits at once (no linger: nobody else may take its draw over).
    const ref = { poolId: ended.poolId, leaseId: ended.id };
    const free = () => (ended.state === 'REVOKED' || ended.borrowedUntil ? this.store.revoke(ref) : this.store.checkin(ref));
    const result = await free().catch((err: Error) => {
      this.logger.warn(`Lease ${ended.id} ended in PostgreSQL; Redis frees its credits at expiry (${err.message})`);
      return null;
    });
    // The pool's Redis state is gone: a rebuild that read the lease as active just before
    // it ended here would restore it (for its grace period), so free it again once the
    // pool is rebuilt. A lease the rebuild did not restore answers NOT_ACTIVE: nothing to do.
    if (result?.status === 'UNAVAILABLE') {
      this.poolState
        .ensure(ended.poolId)
        .then(free)
        .catch((err: Error) => this.logger.warn(`Lease ${ended.id}: could not free it after the rebuild; it expires by itself (${err.message})`));
    }
    this.events.changed(ended.poolId);
    return ended;
  }

  private async record(grant: Granted, lease: NewLease): Promise<LeaseEntity> {
    await this.hooks.granted(lease.id);
    let outcome;
    try {
      outcome = await this.records.insert(lease);
    } catch (err) {
      await this.undo(lease);
      this.logger.warn(`Lease ${lease.id} granted in Redis but not recorded (${(err as Error).message}); released`);
      throw AppError.unavailable('The lease could not be recorded; retry (with the same idempotencyKey)', 1);
    }
    if (outcome.inserted) {
      this.heartbeats.granted(lease);
      this.metrics.grants.inc({ pool: lease.poolId });
      this.events.changed(lease.poolId);
      return this.records.inserted(lease);
    }
    if (outcome.reason === 'STALE_EPOCH' || outcome.reason === 'ROLLED_BACK') {
      if (outcome.reason === 'ROLLED_BACK') {
        this.logger.warn(
          `Pool ${lease.poolId} went back in time in Redis (lease ${lease.id} got fencing token ${lease.fencingToken}, out of order with those recorded); rebuilding it`,
        );
      }
      // A replayed grant may be of a lease recorded by the request that first got it: the
      // rebuild (which replaces the pool's Redis state) keeps that one.
      if (!grant.replayed) await this.undo(lease);
      throw this.rebuilding(lease.poolId);
    }
    // Another request with the same idempotency key recorded first.
    const earlier = await this.records.findByIdempotencyKey(lease.organizationId, lease.apiKeyId, lease.idempotencyKey!);
    if (!earlier) throw AppError.unavailable('The lease could not be recorded; retry', 1);
    if (earlier.id !== grant.leaseId) await this.undo(lease);
    return this.sameRequestOrConflict(earlier, lease.requestHash!);
  }

  private async undo(lease: NewLease): Promise<void> {
    await this.store.revoke({ poolId: lease.poolId, leaseId: lease.id }).catch((err: Error) => {
      this.logger.warn(`Could not release unrecorded lease ${lease.id}; it expires by itself (${err.message})`);
    });
  }

  /** Records the denial and refuses; after a wait that ran out (waitedSeconds), as QUEUE_TIMEOUT. */
  private async refuse(
    refusal: Refused,
    who: { organizationId: string; poolId: string; appId: string; principalId: string; team: string | null },
    waitedSeconds: number | null,
  ): Promise<never> {
    const reason = waitedSeconds === null ? refusal.status : 'QUEUE_TIMEOUT';
    this.metrics.denials.inc({ pool: who.poolId, reason });
    await this.denialRecords.record({ ...who, requested: refusal.requested, available: refusal.available, reason });
    throw refusalError(refusal, waitedSeconds);
  }

  private sameRequestOrConflict(earlier: LeaseEntity, requestHash: string): LeaseEntity {
    if (earlier.requestHash !== requestHash) {
      throw new AppError(
        'IDEMPOTENCY_CONFLICT',
        `This idempotencyKey was used for lease ${earlier.id} with other arguments; use a new key for a new check-out`,
      );
    }
    return earlier;
  }

  private rebuilding(poolId: string): AppError {
    this.poolState.requestRebuild(poolId);
    return AppError.unavailable('The pool is being rebuilt after a storage failover; retry shortly (safe with the same idempotencyKey)', 1);
  }

  private async holder(auth: AuthContext, onBehalfOf: string | null | undefined): Promise<{ id: string; team: string | null }> {
    if (!onBehalfOf || onBehalfOf === auth.principalId) return { id: auth.principalId, team: auth.team };
    if (auth.principalKind !== 'SERVICE') throw new AppError('FORBIDDEN', 'Only a SERVICE principal may check out on behalf of another principal');
    const principal = await this.principals.getInOrganization(auth.organizationId, onBehalfOf, 'input.onBehalfOf');
    return { id: principal.id, team: principal.team };
  }

  /** Heartbeat and check-in: the holder, the principal that checked out for it, or an ADMIN key; anyone else NOT_FOUND. */
  private async ownLease(auth: AuthContext, leaseId: string): Promise<LeaseEntity> {
    const lease = await this.records.findInOrganization(auth.organizationId, leaseId);
    if (!lease || !mayActOnLease(auth, lease)) throw new AppError('NOT_FOUND', `No lease with id ${leaseId} of yours`, { field: 'leaseId' });
    return lease;
  }
}

/** Fencing tokens are the epoch followed by a 12-digit counter. */
function epochOf(fencingToken: string): string {
  return fencingToken.slice(0, -12) || '0';
}
