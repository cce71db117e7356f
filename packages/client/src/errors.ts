/**
 * The one error type the client throws: a refusal from the server with its contract code, or a
 * failure of the client's own (the server unreachable, a lease lost) with a code of the same
 * kind, so callers branch on `err.code` and never parse a message.
 */

/**
 * The contract's codes (docs/api-contract.graphql) and the client's own: UNAVAILABLE for a
 * server it could not reach, LEASE_LOST, CLIENT_CLOSED, and the proof checks' BAD_SIGNATURE,
 * EXPIRED and REVOKED (a borrowed lease named in the organization's revocation list).
 */
export type TokenpoolErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'QUERY_TOO_COMPLEX'
  | 'BAD_REQUEST'
  | 'POOL_EXHAUSTED'
  | 'GROUP_LIMIT_REACHED'
  | 'QUEUE_TIMEOUT'
  | 'LEASE_NOT_ACTIVE'
  | 'IDEMPOTENCY_CONFLICT'
  | 'UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'INTERNAL_SERVER_ERROR'
  | 'BUDGET_EXHAUSTED'
  | 'BORROW_NOT_ALLOWED'
  | 'LEASE_LOST'
  | 'CLIENT_CLOSED'
  | 'BAD_SIGNATURE'
  | 'EXPIRED'
  | 'REVOKED'
  // A code a newer server may answer that this client does not know yet.
  | (string & NonNullable<unknown>);

export interface TokenpoolErrorOptions {
  extensions?: Record<string, unknown>;
  cause?: unknown;
  /** HTTP status of the answer, when there was one. */
  status?: number;
}

export class TokenpoolError extends Error {
  override readonly name = 'TokenpoolError';
  readonly code: TokenpoolErrorCode;
  /** Every extension the server sent with the error, `code` included. */
  readonly extensions: Readonly<Record<string, unknown>>;
  /** Credits available as the caller sees them (POOL_EXHAUSTED, GROUP_LIMIT_REACHED, QUEUE_TIMEOUT). */
  readonly available?: number;
  /** Credits the refused check-out asked for; with BUDGET_EXHAUSTED, the amount the refused reservation needed. */
  readonly requested?: number;
  /** BUDGET_EXHAUSTED: the budget that had too little room. */
  readonly budgetId?: string;
  /** BUDGET_EXHAUSTED: what that budget had left (limit - spent - reserved, at least 0). */
  readonly remaining?: number;
  /** When to try again (UNAVAILABLE, RATE_LIMITED, POOL_EXHAUSTED, ...). */
  readonly retryAfterSeconds?: number;
  /** How an ended lease ended: EXPIRED, RELEASED or REVOKED (LEASE_NOT_ACTIVE). */
  readonly state?: string;
  /** The path of the invalid argument (BAD_USER_INPUT), e.g. `input.cost` or `events[3].inputTokens`. */
  readonly field?: string;
  /** BAD_USER_INPUT of a license-log import: the 1-based number of the first line that is not text or not of the format. */
  readonly line?: number;
  /** BORROW_NOT_ALLOWED: the longest borrow the pool allows, in hours (0: borrowing is off). */
  readonly maxBorrowHours?: number;
  /** Check-outs waiting in the pool's queue (QUEUE_TIMEOUT, POOL_EXHAUSTED). */
  readonly queueLength?: number;
  readonly status?: number;

  constructor(code: TokenpoolErrorCode, message: string, options: TokenpoolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.extensions = Object.freeze({ ...(options.extensions ?? {}), code });
    this.status = options.status;
    const ext = options.extensions ?? {};
    this.available = numberOrUndefined(ext.available);
    this.requested = numberOrUndefined(ext.requested);
    this.budgetId = typeof ext.budgetId === 'string' ? ext.budgetId : undefined;
    this.remaining = numberOrUndefined(ext.remaining);
    this.retryAfterSeconds = numberOrUndefined(ext.retryAfterSeconds);
    this.queueLength = numberOrUndefined(ext.queueLength);
    this.maxBorrowHours = numberOrUndefined(ext.maxBorrowHours);
    this.state = typeof ext.state === 'string' ? ext.state : undefined;
    this.field = typeof ext.field === 'string' ? ext.field : undefined;
    this.line = numberOrUndefined(ext.line);
  }
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** One entry of a GraphQL answer's `errors`, as far as the client reads it. */
export interface GraphQLErrorBody {
  message?: unknown;
  extensions?: unknown;
}

/** The TokenpoolError for the first error of an answer (the server answers one per refused operation). */
export function fromGraphQLErrors(errors: readonly GraphQLErrorBody[], status?: number, retryAfterHeader?: number): TokenpoolError {
  const first = errors[0] ?? {};
  const extensions = isRecord(first.extensions) ? { ...first.extensions } : {};
  if (extensions.retryAfterSeconds === undefined && retryAfterHeader !== undefined) extensions.retryAfterSeconds = retryAfterHeader;
  const code = typeof extensions.code === 'string' ? extensions.code : status === 429 ? 'RATE_LIMITED' : 'INTERNAL_SERVER_ERROR';
  const message = typeof first.message === 'string' && first.message ? first.message : `tokenpool answered ${code}`;
  return new TokenpoolError(code, message, { extensions, status });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
