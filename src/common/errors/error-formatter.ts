import { GraphQLError, GraphQLFormattedError } from 'graphql';
import { AppError, ErrorCode, httpStatusFor } from './app-error';

export interface ExecutionLike {
  data?: unknown;
  errors: readonly GraphQLError[];
}

export interface FormattedExecution {
  statusCode: number;
  response: { data: unknown; errors: GraphQLFormattedError[] };
}

export type InternalErrorLogger = (error: unknown) => void;

const KNOWN_CODES = new Set<string>([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'GRAPHQL_VALIDATION_FAILED',
  'QUERY_TOO_COMPLEX',
  'BAD_REQUEST',
  'POOL_EXHAUSTED',
  'GROUP_LIMIT_REACHED',
  'QUEUE_TIMEOUT',
  'BUDGET_EXHAUSTED',
  'BORROW_NOT_ALLOWED',
  'LEASE_NOT_ACTIVE',
  'IDEMPOTENCY_CONFLICT',
  'UNAVAILABLE',
  'RATE_LIMITED',
  'INTERNAL_SERVER_ERROR',
] satisfies ErrorCode[]);

/** `Variable "$input" got invalid value -1 at "input.cost"; ...` names the path of the bad value. */
function variableField(message: string): string | undefined {
  const at = /^Variable "\$[_A-Za-z0-9]+" got invalid value .* at "([^"]+)"/s.exec(message);
  if (at) return at[1];
  const whole = /^Variable "\$([_A-Za-z0-9]+)"/.exec(message);
  return whole?.[1];
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  errors?: unknown;
}

function asFastifyError(error: GraphQLError): FastifyLikeError | undefined {
  const original = error.originalError as FastifyLikeError | undefined;
  return original && typeof original === 'object' ? original : undefined;
}

interface Classified {
  error: GraphQLFormattedError;
  status: number;
}

function withCode(error: GraphQLError, code: ErrorCode, extra: Record<string, unknown> = {}): GraphQLFormattedError {
  const json = error.toJSON();
  return { ...json, extensions: { ...extra, code } };
}

const OPERATION_SELECTION = /^(Must provide operation name if query contains multiple operations|Unknown operation named|Must provide an operation)/;

/**
 * Errors graphql-js and Mercurius raise about the request itself, before anything ran: a
 * Mercurius request error (no query), the validator giving up (more than 100 errors, or too
 * many overlapping fields to compare), an operationName that selects no operation, variables
 * in a GET that are not a JSON object. The client's to fix, never an internal fault.
 */
function requestRefusal(error: GraphQLError, original: FastifyLikeError | undefined): Classified | undefined {
  if (error.path) return undefined;
  const status = original?.statusCode;
  if (typeof original?.code === 'string' && original.code.startsWith('MER_ERR_') && typeof status === 'number' && status >= 400 && status < 500) {
    return { error: { message: error.message, extensions: { code: 'BAD_REQUEST' } }, status };
  }
  if (error.message === 'Validation aborted.') {
    return { error: { message: 'The document has too many fields in one selection to validate', extensions: { code: 'QUERY_TOO_COMPLEX' } }, status: 400 };
  }
  if (error.message.startsWith('Too many validation errors')) return { error: withCode(error, 'GRAPHQL_VALIDATION_FAILED'), status: 400 };
  if (OPERATION_SELECTION.test(error.message)) return { error: withCode(error, 'BAD_REQUEST'), status: 400 };
  if (error.originalError instanceof SyntaxError || error.message.startsWith('Variables must be provided as an Object')) {
    return { error: { message: 'The variables must be a JSON object', extensions: { code: 'BAD_REQUEST' } }, status: 400 };
  }
  return undefined;
}

/**
 * Classifies one error coming out of Mercurius or Fastify. Errors that already carry a known
 * code (raised by our filter or our validation rules) pass through; the parser's, validator's
 * and variable coercion's errors get the contract's codes; a Fastify transport error (bad JSON,
 * a body over the limit, a batched array) is BAD_REQUEST with its own HTTP status; anything
 * else is an internal fault whose detail goes to the log only.
 */
function classify(error: GraphQLError, logInternal: InternalErrorLogger): Classified {
  const code = error.extensions?.code;
  if (typeof code === 'string' && KNOWN_CODES.has(code)) {
    if (code === 'INTERNAL_SERVER_ERROR') {
      const internal: GraphQLFormattedError = { message: 'Internal server error', extensions: { code } };
      return { error: error.path ? { ...internal, path: error.path } : internal, status: 500 };
    }
    return { error: error.toJSON(), status: httpStatusFor(code as ErrorCode) };
  }
  if (error.originalError instanceof AppError && error.originalError.code !== 'INTERNAL_SERVER_ERROR') {
    // Thrown where Nest's filter does not reach (a subscription's resolve function): its code still holds.
    const { code: appCode, extensions } = error.originalError;
    return { error: { ...error.toJSON(), extensions: { ...extensions, code: appCode } }, status: httpStatusFor(appCode) };
  }
  const original = asFastifyError(error);
  const fastifyCode = original?.code;
  if (typeof fastifyCode === 'string' && fastifyCode.startsWith('FST_')) {
    const status = original?.statusCode && original.statusCode >= 400 && original.statusCode < 500 ? original.statusCode : 400;
    const message =
      fastifyCode === 'FST_ERR_VALIDATION' ? 'Send one GraphQL request as a JSON object; batched (array) requests are not accepted' : error.message;
    return { error: { message, extensions: { code: 'BAD_REQUEST' } }, status };
  }
  const refused = requestRefusal(error, original);
  if (refused) return refused;
  if (error.message.startsWith('Syntax Error')) {
    return { error: withCode(error, 'GRAPHQL_VALIDATION_FAILED'), status: 400 };
  }
  if (error.message.startsWith('Variable "$')) {
    const field = variableField(error.message);
    return { error: withCode(error, 'BAD_USER_INPUT', field ? { field } : {}), status: 400 };
  }
  if (error.nodes && error.nodes.length > 0 && !error.path) {
    // Validation errors point at the document (nodes) but at no result path.
    return { error: withCode(error, 'GRAPHQL_VALIDATION_FAILED'), status: 400 };
  }
  if (error.message === 'Operation cannot be performed via a GET request' || original?.statusCode === 405) {
    return { error: withCode(error, 'BAD_REQUEST'), status: 405 };
  }
  logInternal(error.originalError ?? error);
  const internal: GraphQLFormattedError = { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  return { error: error.path ? { ...internal, path: error.path } : internal, status: 500 };
}

/** Mercurius's validation error wraps the list of real errors; unwrap it. */
function flatten(errors: readonly GraphQLError[]): GraphQLError[] {
  return errors.flatMap((error) => {
    const inner = asFastifyError(error)?.errors;
    if (Array.isArray(inner) && inner.length > 0) {
      return inner.map((e: unknown) =>
        e instanceof GraphQLError ? e : new GraphQLError(e instanceof Error ? e.message : String(e), { originalError: e instanceof Error ? e : undefined }),
      );
    }
    return [error];
  });
}

/**
 * The response for an execution with errors. A request that never ran (bad document, bad
 * variables, transport error: errors without a result path) gets the status of its first
 * error; one that ran answers 200 with its (partial) data, as GraphQL over HTTP expects, so
 * a denial is read from `extensions.code`, not from the HTTP status.
 */
export function formatExecution(execution: ExecutionLike, logInternal: InternalErrorLogger): FormattedExecution {
  const classified = flatten(execution.errors).map((e) => classify(e, logInternal));
  const first = classified[0];
  const requestLevel = first !== undefined && first.error.path === undefined && (execution.data === undefined || execution.data === null);
  const statusCode = requestLevel ? first.status : 200;
  return { statusCode, response: { data: execution.data ?? null, errors: classified.map((c) => c.error) } };
}
