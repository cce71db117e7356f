import { fromGraphQLErrors, isRecord, TokenpoolError } from './errors';

/**
 * One GraphQL request over plain HTTP: POST <url>/graphql with the key as a bearer token and a
 * JSON body. Every way it can fail becomes a TokenpoolError with a contract code, so the retry
 * policy (retry.ts) decides on codes alone: no answer at all (refused, reset, timed out) and
 * an answer that is not GraphQL from a 5xx (a proxy's 502 page) are UNAVAILABLE, a 429 is
 * RATE_LIMITED with its Retry-After. The key never appears in an error: messages name only the
 * URL and the code.
 */

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface TransportOptions {
  /** Base URL of the server, without /graphql. */
  url: string;
  apiKey?: string;
  fetch: FetchLike;
}

export interface RequestOptions {
  /** Gives up on this one request (not its retries) after this long: UNAVAILABLE. */
  timeoutMs?: number;
  /** The caller's cancellation: the request stops and its reason is thrown as is, never retried. */
  signal?: AbortSignal;
}

/** Requests without a timeout of their own: long enough for a slow server, short enough that a black-holed connection is retried. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export class Transport {
  readonly endpoint: string;
  readonly #authorization: string | undefined;
  readonly #fetch: FetchLike;

  constructor(options: TransportOptions) {
    this.endpoint = `${options.url.replace(/\/+$/, '')}/graphql`;
    // Kept in a private field so that logging the client or the transport never prints it.
    this.#authorization = options.apiKey ? `Bearer ${options.apiKey}` : undefined;
    this.#fetch = options.fetch;
  }

  /** The connection_init payload of a WebSocket: the same key, as the contract asks. */
  connectionParams(): Record<string, string> {
    return this.#authorization ? { authorization: this.#authorization } : {};
  }

  async request<TData, TVariables extends object = Record<string, unknown>>(
    query: string,
    variables?: TVariables,
    options: RequestOptions = {},
  ): Promise<TData> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
    if (this.#authorization) headers.authorization = this.#authorization;
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(this.endpoint, { method: 'POST', headers, body: JSON.stringify({ query, variables: variables ?? {} }), signal });
      text = await response.text();
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      const why = timeout.aborted ? `no answer within ${options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS} ms` : describe(err);
      throw new TokenpoolError('UNAVAILABLE', `tokenpool at ${this.endpoint} could not be reached: ${why}`, { cause: err });
    }
    return parseAnswer<TData>(response, text, this.endpoint);
  }
}

/** Turns an HTTP answer into the operation's data or the TokenpoolError it carries. */
export function parseAnswer<TData>(response: Pick<Response, 'status' | 'headers'>, text: string, endpoint: string): TData {
  const status = response.status;
  const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    body = undefined;
    if (status === 429)
      throw new TokenpoolError('RATE_LIMITED', `tokenpool at ${endpoint} answered 429`, { status, extensions: { retryAfterSeconds: retryAfter } });
    if (status >= 500)
      throw new TokenpoolError('UNAVAILABLE', `tokenpool at ${endpoint} answered ${status} without a GraphQL body`, {
        status,
        cause: err,
        extensions: { retryAfterSeconds: retryAfter },
      });
    const code = status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'FORBIDDEN' : status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST';
    throw new TokenpoolError(code, `tokenpool at ${endpoint} answered ${status} without a GraphQL body`, { status, cause: err });
  }
  if (isRecord(body) && Array.isArray(body.errors) && body.errors.length > 0) throw fromGraphQLErrors(body.errors, status, retryAfter);
  if (status === 429)
    throw new TokenpoolError('RATE_LIMITED', `tokenpool at ${endpoint} answered 429`, { status, extensions: { retryAfterSeconds: retryAfter } });
  if (!isRecord(body) || !isRecord(body.data)) {
    const code = status >= 500 ? 'UNAVAILABLE' : 'INTERNAL_SERVER_ERROR';
    throw new TokenpoolError(code, `tokenpool at ${endpoint} answered ${status} without data`, { status });
  }
  return body.data as TData;
}

/** Retry-After as seconds: a number of seconds, or an HTTP date. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici hides the socket's reason (ECONNREFUSED, ECONNRESET) in `cause`.
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}
