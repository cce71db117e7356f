/**
 * Every refusal the service can answer, as named in the public contract. A service throws
 * AppError with one of these; the GraphQL layer turns it into `extensions.code`.
 */
export type ErrorCode =
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
  | 'BUDGET_EXHAUSTED'
  | 'BORROW_NOT_ALLOWED'
  | 'LEASE_NOT_ACTIVE'
  | 'IDEMPOTENCY_CONFLICT'
  | 'UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'INTERNAL_SERVER_ERROR';

export type ErrorExtensions = Record<string, string | number | boolean | null>;

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extensions: ErrorExtensions = {},
  ) {
    super(message);
    this.name = 'AppError';
  }

  static badInput(field: string, message: string): AppError {
    return new AppError('BAD_USER_INPUT', message, { field });
  }

  static notFound(what: string, id: string): AppError {
    return new AppError('NOT_FOUND', `No ${what} with id ${id} in your organization`);
  }

  static unavailable(message: string, retryAfterSeconds = 1): AppError {
    return new AppError('UNAVAILABLE', message, { retryAfterSeconds });
  }
}

/**
 * The HTTP status that goes with a code when an error ends a whole request (REST routes,
 * refusals before GraphQL runs). Exhaustive: a new code will not compile until it has one.
 */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
    case 'BORROW_NOT_ALLOWED':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'BAD_USER_INPUT':
    case 'GRAPHQL_VALIDATION_FAILED':
    case 'QUERY_TOO_COMPLEX':
    case 'BAD_REQUEST':
      return 400;
    case 'IDEMPOTENCY_CONFLICT':
    case 'LEASE_NOT_ACTIVE':
      return 409;
    case 'POOL_EXHAUSTED':
    case 'GROUP_LIMIT_REACHED':
    case 'QUEUE_TIMEOUT':
    case 'BUDGET_EXHAUSTED':
    case 'RATE_LIMITED':
      return 429;
    case 'UNAVAILABLE':
      return 503;
    case 'INTERNAL_SERVER_ERROR':
      return 500;
    default: {
      const unreachable: never = code;
      return unreachable;
    }
  }
}

/** The body of a refused request, shaped like a GraphQL response so every client reads one format. */
export function errorBody(code: ErrorCode, message: string, extensions: ErrorExtensions = {}) {
  return { errors: [{ message, extensions: { code, ...extensions } }] };
}
