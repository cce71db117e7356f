import { randomUUID } from 'node:crypto';
import { TokenpoolError } from './errors';
import type {
  BorrowInput,
  BorrowMutation,
  BudgetFieldsFragment,
  CancelReservationMutation,
  CheckinMutation,
  CheckoutInput,
  CheckoutMutation,
  ComputeBudgetsQuery,
  ComputeUsageInput,
  CreateAppInput,
  CreateAppMutation,
  CreatePoolInput,
  CreatePoolMutation,
  CurrentKeyQuery,
  HeartbeatsMutation,
  HeartbeatsWithProofMutation,
  LeasesQuery,
  LeaseState,
  OrganizationIdQuery,
  OutcomeInput,
  PoolsChangedSubscription,
  PoolsQuery,
  QuoteQuery,
  RecordComputeUsageMutation,
  RecordOutcomeMutation,
  ReservationFieldsFragment,
  ReservationQuery,
  ReserveComputeInput,
  ReserveComputeMutation,
  ReturnBorrowedMutation,
  RevokeLeaseMutation,
  SettleComputeMutation,
  UpsertWorkUnitMutation,
  WorkUnitInput,
} from './generated/graphql';
import { Heartbeater, type HeartbeatResultItem } from './heartbeats';
import { Lease, type LeaseOwner } from './lease';
import { linesOf } from './ledger-audit';
import { isWholeBody, LICENSE_LOG_FORMATS, requestBody, type ImportLicenseLogOptions, type LicenseLogImportSummary } from './license-log-import';
import { CANCEL_RESERVATION, COMPUTE_BUDGETS, RESERVATION, RESERVE_COMPUTE, SETTLE_COMPUTE } from './operations/budgets';
import { CREATE_APP, CREATE_POOL, CURRENT_KEY, ORGANIZATION_ID, POOLS, POOLS_CHANGED } from './operations/catalog';
import { BORROW, CHECKIN, CHECKOUT, HEARTBEATS, HEARTBEATS_WITH_PROOF, LEASES, QUOTE, RETURN_BORROWED, REVOKE_LEASE } from './operations/leases';
import { RECORD_COMPUTE_USAGE, RECORD_OUTCOME, UPSERT_WORK_UNIT } from './operations/ledger';
import {
  fetchJwks,
  fetchRevocationList,
  ProofVerifier,
  verifyProofOffline,
  type JSONWebKeySet,
  type ProofClaims,
  type RevocationList,
  type VerifyProofOptions,
} from './proofs';
import { isRetryable, withRetry } from './retry';
import { Subscriptions } from './subscriptions';
import { DEFAULT_REQUEST_TIMEOUT_MS, parseAnswer, Transport, type FetchLike } from './transport';
import { UsageBuffer, type ComputeUsageEvent } from './usage-buffer';

export interface TokenpoolClientOptions {
  /** The server, without /graphql. Default: TOKENPOOL_URL, else http://localhost:3000. */
  url?: string;
  /** Default: TOKENPOOL_API_KEY. Sent as a bearer token; never logged or put in an error. */
  apiKey?: string;
  /** How long a call keeps retrying UNAVAILABLE, RATE_LIMITED and network failures (default 30 000 ms); per call too. */
  retryDeadlineMs?: number;
  /** The fetch to use (default: the global one), e.g. to add a proxy or count requests. */
  fetch?: FetchLike;
  /** The WebSocket class for subscriptions (default: the `ws` package's). */
  webSocketImpl?: unknown;
  /** Errors of background work no call awaits (usage events refused by the server, a watch refused). Default: console.warn. */
  onError?: (err: TokenpoolError) => void;
}

/** Options every call takes. */
export interface CallOptions {
  /** Overrides the client's retryDeadlineMs for this call. */
  retryDeadlineMs?: number;
  /** Cancels the call (and its retries); its reason is thrown. */
  signal?: AbortSignal;
}

/** checkout's input: CheckoutInput's fields, plus `refreshProof` to keep lease.proof fresh with every heartbeat. */
export type CheckoutOptions = CheckoutInput & { refreshProof?: boolean };

export type Pool = PoolsQuery['pools'][number];
export type Quote = QuoteQuery['quote'];
export type CurrentKey = CurrentKeyQuery['currentKey'];
export type App = CreateAppMutation['createApp'];
export type WorkUnit = UpsertWorkUnitMutation['upsertWorkUnit'];
export type ComputeUsageResult = RecordComputeUsageMutation['recordComputeUsage'];

/** A compute budget with its live figures (the current period's), its periodStart as a Date. */
export type ComputeBudget = Omit<BudgetFieldsFragment, 'periodStart'> & { periodStart: Date | null };

/** A compute reservation: OPEN while it holds `amount`, then SETTLED (with settledCost), CANCELLED or EXPIRED. */
export type ComputeReservation = Omit<ReservationFieldsFragment, 'expiresAt' | 'workUnit' | 'budgets'> & {
  expiresAt: Date;
  workUnitId: string | null;
  /** The budgets it holds (or held), with their live figures. */
  budgets: ComputeBudget[];
};

/** reserveCompute's and withBudget's input: ReserveComputeInput; an idempotencyKey is made when absent. */
export type ReserveComputeOptions = ReserveComputeInput;

/**
 * What a withBudget callback reports about its model call: the real token counts (and the
 * cost, when the provider says it). Settled as ComputeUsageInput with the reservation's
 * provider, model and workUnitId, unless `model` names the model that actually answered.
 */
export interface BudgetUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number | null;
  reasoningOutputTokens?: number | null;
  cost?: number | null;
  model?: string;
  eventId?: string;
  occurredAt?: Date | string;
}

/** What a withBudget callback returns: its result (handed back by withBudget) and the call's usage. */
export interface BudgetedResult<T> {
  result: T;
  usage: BudgetUsage;
}

/** ledgerAudit's options: the seals to export (default: every seal), and the usual call options. */
export interface LedgerAuditOptions extends CallOptions {
  /** The first seal's sequence (default 1). */
  fromSequence?: number;
  /** The last seal's sequence (default: the newest). */
  toSequence?: number;
}

/** borrow's input: BorrowInput's fields; an idempotencyKey is made when absent. */
export type BorrowOptions = BorrowInput;

/**
 * A borrowed lease: held until borrowedUntil or returnBorrowed, with no heartbeat (so no
 * signal and no release(): it is plain data, safe to save). Its proof's exp is borrowedUntil.
 */
export interface BorrowedLease {
  id: string;
  state: LeaseState;
  poolId: string;
  /** The app's key, as borrowed. */
  app: string;
  credits: number;
  /** Decimal integer: compare as BigInt. */
  fencingToken: string;
  /** The signed proof (JWT) a tool verifies offline; null only for a caller the server does not give proofs to. */
  proof: string | null;
  acquiredAt: Date;
  expiresAt: Date;
  /** When the borrow ends by itself; the proof's exp. */
  borrowedUntil: Date;
  leaseSeconds: number;
  host: string | null;
  workUnitId: string | null;
}

/** A returned borrowed lease (RELEASED; or how it had ended before: an ended lease is answered as it is). */
export interface ReturnedLease {
  id: string;
  state: LeaseState;
  endedAt: Date | null;
  borrowedUntil: Date | null;
}

/** verifyProof's options: with `keys` (a JWKS saved earlier) nothing is fetched. */
export interface ClientVerifyProofOptions extends VerifyProofOptions {
  keys?: JSONWebKeySet;
}

/** A lease as `leases()` lists it, with its times as Dates. */
export type LeaseSummary = Omit<LeasesQuery['leases'][number], 'acquiredAt' | 'expiresAt' | 'endedAt'> & {
  acquiredAt: Date;
  expiresAt: Date;
  endedAt: Date | null;
};

export interface LeasesFilter {
  poolId?: string;
  state?: LeaseState;
  first?: number;
  after?: string;
}

export interface WatchOptions {
  /** Stops watching when it aborts. */
  signal?: AbortSignal;
  /**
   * Called each time the watch's socket is open, at the start and after every reconnect:
   * changes made while it was down are not replayed, so read pools() here for a snapshot
   * that covers the gap.
   */
  onConnected?: () => void;
  /** Called when the subscription fails for good (a refused key); reconnects are silent. Default: the client's onError. */
  onError?: (err: TokenpoolError) => void;
}

/** How many check-ins close() sends at once. */
const RELEASE_CONCURRENCY = 16;
/** A check-out that waits in the queue gets this much longer than waitSeconds before its request times out. */
const WAIT_MARGIN_MS = 15_000;

/**
 * The tokenpool client: check-outs with automatic heartbeats, revocation as an AbortSignal,
 * compute usage in batches, offline proof checks and live pool figures. See the README.
 *
 * Retries: UNAVAILABLE, RATE_LIMITED and network failures are retried until the deadline for
 * every call whose repetition is harmless: queries, check-out (one idempotency key per call),
 * check-in, heartbeats, revocation, upsertWorkUnit, usage (stable eventIds). Mutations that
 * would repeat their effect (createPool, createApp, recordOutcome, and mutations sent through
 * request()) are retried only when the server answered that it did not run them, never after
 * a lost connection, where they may have run.
 */
export class TokenpoolClient implements LeaseOwner {
  readonly url: string;
  readonly #transport: Transport;
  readonly #retryDeadlineMs: number;
  readonly #held = new Map<string, Lease>();
  readonly #heartbeater: Heartbeater;
  readonly #usage: UsageBuffer;
  readonly #subscriptions: Subscriptions;
  readonly #watchers = new Set<() => void>();
  readonly #onError: (err: TokenpoolError) => void;
  readonly #fetch: FetchLike;
  #verifier: ProofVerifier | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: TokenpoolClientOptions = {}) {
    this.url = (options.url ?? process.env.TOKENPOOL_URL ?? 'http://localhost:3000').replace(/\/+$/, '');
    this.#retryDeadlineMs = options.retryDeadlineMs ?? 30_000;
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#transport = new Transport({
      url: this.url,
      apiKey: options.apiKey ?? process.env.TOKENPOOL_API_KEY,
      fetch: this.#fetch,
    });
    this.#heartbeater = new Heartbeater({ send: (ids, options) => this.#sendHeartbeats(ids, options) });
    const onError = options.onError ?? ((err: TokenpoolError) => console.warn(`tokenpool client: ${err.code}: ${err.message}`));
    this.#onError = onError;
    this.#usage = new UsageBuffer({
      send: (events) => this.#transport.request<RecordComputeUsageMutation>(RECORD_COMPUTE_USAGE, { events }, { timeoutMs: DEFAULT_REQUEST_TIMEOUT_MS }),
      onError,
    });
    this.#subscriptions = new Subscriptions({
      url: this.url,
      connectionParams: () => this.#transport.connectionParams(),
      webSocketImpl: options.webSocketImpl,
    });
  }

  /** The leases this client holds now (checked out, not yet released or lost). */
  get leasesHeld(): readonly Lease[] {
    return [...this.#held.values()];
  }

  /**
   * Checks an app out and keeps the lease alive with heartbeats until it is released or lost.
   * Without idempotencyKey one is made and reused on every retry of this call, so a retry
   * after a lost answer returns the same lease instead of a second one. With waitSeconds the
   * request waits in the pool's queue on the server; its timeout is waitSeconds + 15 s.
   */
  async checkout(input: CheckoutOptions, options: CallOptions = {}): Promise<Lease> {
    this.#assertOpen();
    const { refreshProof = false, ...rest } = input;
    const checkoutInput: CheckoutInput = { ...rest, idempotencyKey: rest.idempotencyKey ?? randomUUID() };
    const waitMs = (checkoutInput.waitSeconds ?? 0) * 1000;
    const deadline = Date.now() + (options.retryDeadlineMs ?? this.#retryDeadlineMs) + waitMs;
    let firstSentAt: number | undefined;
    const { checkout } = await withRetry(
      () => {
        firstSentAt ??= Date.now();
        return this.#transport.request<CheckoutMutation>(
          CHECKOUT,
          { input: checkoutInput },
          { timeoutMs: waitMs + (waitMs ? WAIT_MARGIN_MS : DEFAULT_REQUEST_TIMEOUT_MS), signal: options.signal },
        );
      },
      { deadline, signal: options.signal },
    );
    // The local expiry starts when the first attempt was sent: whichever attempt was granted,
    // the grant came later, so the local deadline is never after the server's. A check-out
    // that may have waited in the queue starts it when its answer arrived instead.
    const startedAt = waitMs ? Date.now() : (firstSentAt ?? Date.now());
    const lease = new Lease(
      {
        ...checkout,
        poolId: checkoutInput.poolId,
        app: checkoutInput.app,
        host: checkout.host ?? null,
        workUnitId: checkoutInput.workUnitId ?? null,
        refreshProof,
      },
      this,
    );
    if (this.#closing) {
      // close() began while this check-out was in flight: give the lease straight back.
      await this.checkin(lease).catch(() => undefined);
      throw new TokenpoolError('CLIENT_CLOSED', 'the client was closed while the check-out was in flight; the lease was checked in');
    }
    this.#held.set(lease.id, lease);
    this.#heartbeater.add(lease, checkout.leaseSeconds, startedAt);
    return lease;
  }

  /** Holds a lease while `fn` runs: resolves to what fn returns, rethrows what it throws, and releases the lease in both cases. */
  async withLease<T>(input: CheckoutOptions, fn: (lease: Lease) => Promise<T> | T, options: CallOptions = {}): Promise<T> {
    const lease = await this.checkout(input, options);
    let result: T;
    try {
      result = await fn(lease);
    } catch (err) {
      await lease.release().catch(() => undefined);
      throw err;
    }
    // A failed check-in does not hide fn's result: the lease's heartbeats have stopped, so it expires by itself.
    await lease.release().catch(() => undefined);
    return result;
  }

  /**
   * Borrows an app for `hours` (1 to the pool's maxBorrowHours), to run offline: the lease
   * needs no heartbeat (none is started) and holds its credits until borrowedUntil or
   * returnBorrowed; its proof's exp is borrowedUntil. Without idempotencyKey one is made and
   * reused on every retry of this call, so a retry never borrows twice. Refusals:
   * BORROW_NOT_ALLOWED (err.maxBorrowHours: the pool's limit, 0 when borrowing is off),
   * POOL_EXHAUSTED, GROUP_LIMIT_REACHED.
   */
  async borrow(input: BorrowOptions, options: CallOptions = {}): Promise<BorrowedLease> {
    this.#assertOpen();
    const borrowInput: BorrowInput = { ...input, idempotencyKey: input.idempotencyKey ?? randomUUID() };
    const { borrow } = await this.#call<BorrowMutation>(BORROW, { input: borrowInput }, options, true);
    if (!borrow.borrowedUntil) throw new TokenpoolError('INTERNAL_SERVER_ERROR', `borrow answered lease ${borrow.id} without borrowedUntil`);
    return {
      id: borrow.id,
      state: borrow.state,
      poolId: borrowInput.poolId,
      app: borrowInput.app,
      credits: borrow.credits,
      fencingToken: borrow.fencingToken,
      proof: borrow.proof,
      acquiredAt: new Date(borrow.acquiredAt),
      expiresAt: new Date(borrow.expiresAt),
      borrowedUntil: new Date(borrow.borrowedUntil),
      leaseSeconds: borrow.leaseSeconds,
      host: borrow.host ?? null,
      workUnitId: borrowInput.workUnitId ?? null,
    };
  }

  /** Returns a borrowed lease early: its credits are free at once. Idempotent: an ended lease is answered as it is. */
  async returnBorrowed(leaseId: string, options: CallOptions = {}): Promise<ReturnedLease> {
    const { returnBorrowed } = await this.#call<ReturnBorrowedMutation>(RETURN_BORROWED, { leaseId }, options, true);
    return {
      ...returnBorrowed,
      endedAt: returnBorrowed.endedAt ? new Date(returnBorrowed.endedAt) : null,
      borrowedUntil: returnBorrowed.borrowedUntil ? new Date(returnBorrowed.borrowedUntil) : null,
    };
  }

  /** What a check-out would cost now, whether it would be granted, and the likely wait. */
  async quote(input: { poolId: string; app: string; host?: string; workUnitId?: string }, options: CallOptions = {}): Promise<Quote> {
    return (await this.#call<QuoteQuery>(QUOTE, input, options, true)).quote;
  }

  /** Every pool of the organization with its live figures and apps. */
  async pools(options: CallOptions = {}): Promise<Pool[]> {
    return (await this.#call<PoolsQuery>(POOLS, {}, options, true)).pools;
  }

  /** Leases, newest first (a CLIENT key sees its own). */
  async leases(filter: LeasesFilter = {}, options: CallOptions = {}): Promise<LeaseSummary[]> {
    const { leases } = await this.#call<LeasesQuery>(LEASES, filter, options, true);
    return leases.map((l) => ({ ...l, acquiredAt: new Date(l.acquiredAt), expiresAt: new Date(l.expiresAt), endedAt: l.endedAt ? new Date(l.endedAt) : null }));
  }

  /** Ends someone's lease now (ADMIN); its holder's signal aborts at its next heartbeat. */
  async revokeLease(leaseId: string, reason?: string, options: CallOptions = {}): Promise<{ id: string; state: LeaseState; endedAt: Date | null }> {
    const { revokeLease } = await this.#call<RevokeLeaseMutation>(REVOKE_LEASE, { leaseId, reason }, options, true);
    return { ...revokeLease, endedAt: revokeLease.endedAt ? new Date(revokeLease.endedAt) : null };
  }

  /** The key this client uses: its id, role and principal. */
  async currentKey(options: CallOptions = {}): Promise<CurrentKey> {
    return (await this.#call<CurrentKeyQuery>(CURRENT_KEY, {}, options, true)).currentKey;
  }

  /** Creates a pool (ADMIN). */
  async createPool(input: CreatePoolInput, options: CallOptions = {}): Promise<Pool> {
    return (await this.#call<CreatePoolMutation>(CREATE_POOL, { input }, options, false)).createPool;
  }

  /** Creates an app in a pool (ADMIN). */
  async createApp(input: CreateAppInput, options: CallOptions = {}): Promise<App> {
    return (await this.#call<CreateAppMutation>(CREATE_APP, { input }, options, false)).createApp;
  }

  /** Creates or updates a work unit by its externalRef. */
  async upsertWorkUnit(input: WorkUnitInput, options: CallOptions = {}): Promise<WorkUnit> {
    return (await this.#call<UpsertWorkUnitMutation>(UPSERT_WORK_UNIT, { input }, options, true)).upsertWorkUnit;
  }

  /** Records a work unit's outcome (kept in its history). */
  async recordOutcome(input: OutcomeInput, options: CallOptions = {}): Promise<WorkUnit> {
    return (await this.#call<RecordOutcomeMutation>(RECORD_OUTCOME, { input }, options, false)).recordOutcome;
  }

  /**
   * Buffers one compute-usage event (sent within a second, in batches of up to 1,000) and
   * returns its eventId: the caller's, or a random UUID assigned now and kept on every resend.
   */
  recordUsage(event: ComputeUsageEvent): string {
    this.#assertOpen();
    return this.#usage.add(event);
  }

  /** Resolves once every buffered usage event has been acknowledged; rejects with UNAVAILABLE after the retry deadline (they stay buffered). */
  async flushUsage(options: { retryDeadlineMs?: number } = {}): Promise<void> {
    await this.#usage.flush(Date.now() + (options.retryDeadlineMs ?? this.#retryDeadlineMs));
  }

  /**
   * Holds the most a model call may cost (maxInputTokens x input price + maxOutputTokens x
   * output price, or `amount`) on every compute budget that applies, in one atomic step.
   * Without idempotencyKey one is made and reused on every retry of this call, so a retry after
   * a lost answer returns the same reservation instead of holding twice. A budget with too
   * little room throws BUDGET_EXHAUSTED (err.budgetId, err.remaining, err.requested), never
   * retried.
   */
  async reserveCompute(input: ReserveComputeOptions, options: CallOptions = {}): Promise<ComputeReservation> {
    const reserveInput: ReserveComputeInput = { ...input, idempotencyKey: input.idempotencyKey ?? randomUUID() };
    const { reserveCompute } = await this.#call<ReserveComputeMutation>(RESERVE_COMPUTE, { input: reserveInput }, options, true);
    return reservationOf(reserveCompute);
  }

  /**
   * Settles a reservation with the call's real usage: recorded in the ledger (as recordUsage
   * would), its cost charged to the reservation's budgets in full (even above the hold), the
   * rest released. `eventId` defaults to a random UUID made once for this call and `occurredAt`
   * to now, both reused on every retry, so the usage is counted once.
   */
  async settleCompute(reservationId: string, usage: ComputeUsageEvent, options: CallOptions = {}): Promise<ComputeReservation> {
    const event: ComputeUsageInput = {
      ...usage,
      eventId: usage.eventId ?? randomUUID(),
      occurredAt: new Date(usage.occurredAt ?? Date.now()).toISOString(),
    };
    const { settleCompute } = await this.#call<SettleComputeMutation>(SETTLE_COMPUTE, { reservationId, usage: event }, options, true);
    return reservationOf(settleCompute);
  }

  /** Releases an OPEN reservation at once (the call was not made); cancelling a cancelled one answers it again. */
  async cancelReservation(reservationId: string, options: CallOptions = {}): Promise<ComputeReservation> {
    const { cancelReservation } = await this.#call<CancelReservationMutation>(CANCEL_RESERVATION, { reservationId }, options, true);
    return reservationOf(cancelReservation);
  }

  /**
   * Reserves, runs `fn(reservation)` (the model call), settles with the usage fn returns and
   * resolves to fn's `result`. When fn throws, the reservation is cancelled and fn's error
   * rethrown. When the settlement cannot reach the server before the retry deadline
   * (UNAVAILABLE or RATE_LIMITED), the usage is handed to recordUsage with the same eventId instead (buffered
   * and sent until acknowledged; the hold lapses at expiresAt), the failure goes to onError and
   * the result is still returned; any other refusal of the settlement is thrown.
   */
  async withBudget<T>(
    input: ReserveComputeOptions,
    fn: (reservation: ComputeReservation) => Promise<BudgetedResult<T>> | BudgetedResult<T>,
    options: CallOptions = {},
  ): Promise<T> {
    const reservation = await this.reserveCompute(input, options);
    let outcome: BudgetedResult<T>;
    try {
      outcome = await fn(reservation);
      if (!outcome || typeof outcome !== 'object' || !outcome.usage || typeof outcome.usage !== 'object') {
        throw new TypeError('withBudget: the callback must resolve to { result, usage: { inputTokens, outputTokens, ... } }');
      }
    } catch (err) {
      // A cancel that fails does not hide fn's error: the hold lapses at expiresAt by itself.
      await this.cancelReservation(reservation.id, { retryDeadlineMs: options.retryDeadlineMs }).catch(() => undefined);
      throw err;
    }
    const { model, ...counts } = outcome.usage;
    const usage: ComputeUsageEvent = {
      ...counts,
      provider: input.provider,
      model: model ?? input.model,
      workUnitId: input.workUnitId ?? null,
      eventId: counts.eventId ?? randomUUID(),
      occurredAt: new Date(counts.occurredAt ?? Date.now()).toISOString(),
    };
    try {
      await this.settleCompute(reservation.id, usage, options);
    } catch (err) {
      if (!isRetryable(err) || this.#closing) throw err;
      // Unreachable past the deadline: the usage is not lost, it goes through the usage buffer (same eventId).
      this.#usage.add(usage);
      this.#onError(
        new TokenpoolError(
          'UNAVAILABLE',
          `reservation ${reservation.id} could not be settled (${err.message}); its usage was buffered for recordComputeUsage`,
          {
            cause: err,
          },
        ),
      );
    }
    return outcome.result;
  }

  /** A reservation by id: its holder, ADMIN and VIEWER; null for anyone else. */
  async reservation(id: string, options: CallOptions = {}): Promise<ComputeReservation | null> {
    const { reservation } = await this.#call<ReservationQuery>(RESERVATION, { id }, options, true);
    return reservation ? reservationOf(reservation) : null;
  }

  /** The organization's compute budgets with live figures (a CLIENT key sees those that apply to it). */
  async computeBudgets(options: CallOptions = {}): Promise<ComputeBudget[]> {
    return (await this.#call<ComputeBudgetsQuery>(COMPUTE_BUDGETS, {}, options, true)).computeBudgets.map(budgetOf);
  }

  /**
   * Checks a lease proof offline against the server's published keys (see proofs.ts), or,
   * with `options.keys`, against keys saved earlier without any network. `now` sets the clock
   * for exp; `revocationList` (verified claims, or the list's JWS) refuses a revoked borrow.
   * Resolves to the claims; rejects with BAD_SIGNATURE, EXPIRED or REVOKED.
   */
  async verifyProof(proof: string, options: ClientVerifyProofOptions = {}): Promise<ProofClaims> {
    const { keys, ...rest } = options;
    if (keys) return verifyProofOffline(proof, { ...rest, keys });
    this.#verifier ??= new ProofVerifier(this.url);
    return this.#verifier.verify(proof, rest);
  }

  /** The server's public keys (GET /.well-known/jwks.json), to save beside a borrowed proof for offline checks. */
  async jwks(options: { signal?: AbortSignal } = {}): Promise<JSONWebKeySet> {
    return fetchJwks(this.url, { fetch: this.#fetch, signal: options.signal });
  }

  /** The id of the key's organization (the path of its revocation list). */
  async organizationId(options: CallOptions = {}): Promise<string> {
    return (await this.#call<OrganizationIdQuery>(ORGANIZATION_ID, {}, options, true)).me.organization.id;
  }

  /**
   * The organization's revocation list (GET /.well-known/revoked-leases/<id>), verified
   * against the server's keys (or `keys`): the revoked borrowed leases, and the JWS to keep
   * for offline checks. `organizationId` defaults to the key's organization.
   */
  async revocationList(options: CallOptions & { organizationId?: string; keys?: JSONWebKeySet } = {}): Promise<RevocationList> {
    const organizationId = options.organizationId ?? (await this.organizationId(options));
    return fetchRevocationList(this.url, organizationId, { keys: options.keys, fetch: this.#fetch, signal: options.signal });
  }

  /**
   * The auditor's export of the sealed ledger (GET /exports/ledger-audit.jsonl, ADMIN or
   * VIEWER; docs/ledger-audit.md): resolves, once the server has accepted the request, to the
   * response body as a stream of bytes, exactly as sent (write it to a file as is, or check it
   * with `verifyLedgerAudit(linesOf(stream))`). A refusal rejects with the server's code
   * (BAD_USER_INPUT for a bad range, FORBIDDEN for a CLIENT key, RATE_LIMITED when the
   * organization's export slots are taken, after retrying until the deadline). Read or cancel
   * the stream: it holds the connection and an export slot until then.
   */
  async ledgerAudit(options: LedgerAuditOptions = {}): Promise<ReadableStream<Uint8Array>> {
    this.#assertOpen();
    const query = new URLSearchParams();
    if (options.fromSequence !== undefined) query.set('fromSequence', String(options.fromSequence));
    if (options.toSequence !== undefined) query.set('toSequence', String(options.toSequence));
    const search = query.toString();
    const target = `${this.url}/exports/ledger-audit.jsonl${search ? `?${search}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/jsonl, application/json' };
    const { authorization } = this.#transport.connectionParams();
    if (authorization) headers.authorization = authorization;
    const attempt = async (): Promise<ReadableStream<Uint8Array>> => {
      // A timeout for the answer's headers only: the body of a large export may take as long as it takes.
      const headersTimeout = new AbortController();
      const timer = setTimeout(() => headersTimeout.abort(), DEFAULT_REQUEST_TIMEOUT_MS);
      const signal = options.signal ? AbortSignal.any([options.signal, headersTimeout.signal]) : headersTimeout.signal;
      let response: Response;
      try {
        response = await this.#fetch(target, { method: 'GET', headers, signal });
      } catch (err) {
        if (options.signal?.aborted) throw options.signal.reason;
        const why = headersTimeout.signal.aborted ? `no answer within ${DEFAULT_REQUEST_TIMEOUT_MS} ms` : err instanceof Error ? err.message : String(err);
        throw new TokenpoolError('UNAVAILABLE', `tokenpool at ${target} could not be reached: ${why}`, { cause: err });
      } finally {
        clearTimeout(timer);
      }
      if (response.ok && response.body) return response.body;
      const text = await response.text().catch(() => '');
      // The export's refusals are GraphQL-shaped ({ errors: [{ message, extensions: { code } }] }).
      parseAnswer(response, text, target);
      throw new TokenpoolError(response.status >= 500 ? 'UNAVAILABLE' : 'INTERNAL_SERVER_ERROR', `tokenpool at ${target} answered ${response.status}`, {
        status: response.status,
      });
    };
    return withRetry(attempt, { deadline: Date.now() + (options.retryDeadlineMs ?? this.#retryDeadlineMs), signal: options.signal });
  }

  /**
   * Imports a license server's log into a pool's usage history (POST /v1/imports/{format},
   * ADMIN; docs/license-logs.md): a FlexNet debug log (`flexlm`), an RLM report log (`rlm`) or
   * `lmstat -a` snapshots (`lmstat`). The body is streamed (a file's createReadStream is never
   * read whole), gzip-compressed on the way with `gzip: true`; a body that already is gzip is
   * sent as is. Resolves to the server's summary; each event is recorded once, so importing
   * the same file again answers `duplicates` and records nothing. Refusals reject with the
   * server's code: BAD_USER_INPUT (err.line: the first offending line of a body that is not
   * text or not of the format; err.field: a bad timeZone or format), FORBIDDEN (not ADMIN),
   * NOT_FOUND (the pool), BAD_REQUEST (the body is over the server's limit), RATE_LIMITED (an
   * import of the pool is running; retried until the deadline for a Buffer body only, as a
   * stream cannot be sent twice). No timeout of its own: pass a signal to give up.
   */
  async importLicenseLog(options: ImportLicenseLogOptions): Promise<LicenseLogImportSummary> {
    this.#assertOpen();
    if (!LICENSE_LOG_FORMATS.includes(options.format)) {
      throw new TokenpoolError('BAD_USER_INPUT', `format must be one of ${LICENSE_LOG_FORMATS.join(', ')}, not "${String(options.format)}"`, {
        extensions: { field: 'format' },
      });
    }
    const query = new URLSearchParams({ poolId: options.poolId });
    if (options.timeZone) query.set('tz', options.timeZone);
    const target = `${this.url}/v1/imports/${encodeURIComponent(options.format)}?${query}`;
    const gzip = options.gzip ?? false;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', accept: 'application/json' };
    if (gzip) headers['content-encoding'] = 'gzip';
    const { authorization } = this.#transport.connectionParams();
    if (authorization) headers.authorization = authorization;
    const attempt = async (): Promise<LicenseLogImportSummary> => {
      const { body, streamed } = requestBody(options.body, gzip);
      const init: RequestInit & { duplex?: 'half' } = { method: 'POST', headers, body: body as unknown as RequestInit['body'], signal: options.signal };
      // Node's fetch streams a request body only in half-duplex mode.
      if (streamed) init.duplex = 'half';
      let response: Response;
      let text: string;
      try {
        response = await this.#fetch(target, init);
        text = await response.text();
      } catch (err) {
        if (options.signal?.aborted) throw options.signal.reason;
        const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
        throw new TokenpoolError('UNAVAILABLE', `tokenpool at ${target} could not be reached: ${err instanceof Error ? err.message : String(err)}${cause}`, {
          cause: err,
        });
      }
      if (response.ok) {
        try {
          return JSON.parse(text) as LicenseLogImportSummary;
        } catch (err) {
          throw new TokenpoolError('INTERNAL_SERVER_ERROR', `tokenpool at ${target} answered ${response.status} without a JSON summary`, {
            status: response.status,
            cause: err,
          });
        }
      }
      // Refusals are GraphQL-shaped ({ errors: [{ message, extensions: { code, line?, field? } }] }).
      parseAnswer(response, text, target);
      throw new TokenpoolError(response.status >= 500 ? 'UNAVAILABLE' : 'INTERNAL_SERVER_ERROR', `tokenpool at ${target} answered ${response.status}`, {
        status: response.status,
      });
    };
    if (!isWholeBody(options.body)) return attempt();
    // A whole body can be sent again, but only after an answer: without one the import may have run (a repeat would only count duplicates, yet report nothing new).
    return withRetry(attempt, {
      deadline: Date.now() + (options.retryDeadlineMs ?? this.#retryDeadlineMs),
      signal: options.signal,
      shouldRetry: (err) => err.status !== undefined,
    });
  }

  /** The auditor's export as its lines (without "\n"), for `verifyLedgerAudit`; see ledgerAudit. */
  async ledgerAuditLines(options: LedgerAuditOptions = {}): Promise<AsyncGenerator<string>> {
    return linesOf(await this.ledgerAudit(options));
  }

  /**
   * Calls `onPool` with a pool of the organization every time it changes (check-out,
   * check-in, expiry, revocation, cap change), over the poolsChanged subscription. Changes
   * made while the socket was down are not replayed: read pools() for a snapshot. Returns a
   * function that stops watching.
   */
  watchPools(onPool: (pool: Pool) => void, options: WatchOptions = {}): () => void {
    this.#assertOpen();
    const unsubscribe = this.#subscriptions.subscribe<PoolsChangedSubscription>(POOLS_CHANGED, {
      next: (data) => onPool(data.poolsChanged),
      error: (err) => (options.onError ?? this.#onError)(err),
      connected: options.onConnected,
    });
    const stop = () => {
      if (!this.#watchers.delete(stop)) return;
      options.signal?.removeEventListener('abort', stop);
      unsubscribe();
    };
    this.#watchers.add(stop);
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener('abort', stop, { once: true });
    return stop;
  }

  /**
   * Any GraphQL operation, for what the typed methods do not cover. Queries are retried like
   * the typed ones; mutations only when the server answered that it did not run them.
   */
  async request<T, V extends object = Record<string, unknown>>(query: string, variables?: V, options: CallOptions = {}): Promise<T> {
    const isMutation = /^\s*(#[^\n]*\n\s*)*mutation\b/.test(query);
    return this.#call<T>(query, variables ?? {}, options, !isMutation);
  }

  /**
   * Stops watching, releases every lease the client holds, sends the buffered usage and closes
   * the WebSocket. Idempotent: every call returns the same promise. Rejects with UNAVAILABLE
   * only when usage events could not be sent before the retry deadline (lost with the client);
   * leases that could not be checked in expire by themselves, their heartbeats stopped.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const stop of [...this.#watchers]) stop();
    const leases = [...this.#held.values()];
    let next = 0;
    const worker = async () => {
      while (next < leases.length) await leases[next++].release().catch(() => undefined);
    };
    await Promise.all(Array.from({ length: Math.min(RELEASE_CONCURRENCY, leases.length) }, worker));
    this.#heartbeater.close();
    let unsent: unknown;
    await this.flushUsage().catch((err: unknown) => (unsent = err));
    this.#usage.stop();
    await this.#subscriptions.close().catch(() => undefined);
    if (unsent !== undefined) throw unsent;
  }

  /** @internal Lease.release(): the check-in, retried; an already ended lease is not an error. */
  async checkin(lease: Lease): Promise<void> {
    try {
      await this.#call<CheckinMutation>(CHECKIN, { leaseId: lease.id }, {}, true);
    } catch (err) {
      if (err instanceof TokenpoolError && (err.code === 'LEASE_NOT_ACTIVE' || err.code === 'NOT_FOUND')) return;
      throw err;
    }
  }

  /** @internal a lease was released or lost: no more heartbeats for it. */
  forget(lease: Lease): void {
    this.#held.delete(lease.id);
    this.#heartbeater.remove(lease.id);
  }

  async #sendHeartbeats(leaseIds: string[], options: { withProof: boolean; idle: boolean; timeoutMs: number }): Promise<HeartbeatResultItem[]> {
    const variables = { leaseIds, idle: options.idle };
    if (options.withProof) return (await this.#transport.request<HeartbeatsWithProofMutation>(HEARTBEATS_WITH_PROOF, variables, options)).heartbeats;
    return (await this.#transport.request<HeartbeatsMutation>(HEARTBEATS, variables, options)).heartbeats;
  }

  /** One operation with the retry policy; `idempotent` false retries only refusals the server answered. */
  async #call<T>(query: string, variables: object, options: CallOptions, idempotent: boolean): Promise<T> {
    const deadline = Date.now() + (options.retryDeadlineMs ?? this.#retryDeadlineMs);
    return withRetry(() => this.#transport.request<T, object>(query, variables, { signal: options.signal }), {
      deadline,
      signal: options.signal,
      // Without an answer (status undefined) a mutation may have run: not repeated.
      shouldRetry: idempotent ? undefined : (err) => err.status !== undefined,
    });
  }

  #assertOpen(): void {
    if (this.#closing) throw new TokenpoolError('CLIENT_CLOSED', 'this TokenpoolClient was closed');
  }
}

function budgetOf(budget: BudgetFieldsFragment): ComputeBudget {
  return { ...budget, periodStart: budget.periodStart ? new Date(budget.periodStart) : null };
}

function reservationOf(reservation: ReservationFieldsFragment): ComputeReservation {
  const { workUnit, budgets, expiresAt, ...rest } = reservation;
  return { ...rest, expiresAt: new Date(expiresAt), workUnitId: workUnit?.id ?? null, budgets: budgets.map(budgetOf) };
}
