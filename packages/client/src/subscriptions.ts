import { createClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { fromGraphQLErrors, isRecord, TokenpoolError } from './errors';
import { backoffDelay, sleep } from './retry';

/**
 * The client's one WebSocket (graphql-transport-ws at <url>/graphql, the key in the
 * connection_init payload), opened on the first subscription and closed with the last one
 * (graphql-ws's lazy mode). A dropped connection is re-opened with jittered backoff (0.5 s
 * doubling to 10 s), forever, and its subscriptions re-sent; a refused key (close code 4401
 * or 4403) is not retried: the subscriptions end with UNAUTHENTICATED/FORBIDDEN through
 * their onError. Pings every 10 s notice a connection that died silently.
 */

export interface SubscriptionsOptions {
  /** Base URL of the server, without /graphql (http(s) is turned into ws(s)). */
  url: string;
  connectionParams: () => Record<string, string>;
  webSocketImpl?: unknown;
}

export interface SubscribeHandlers<T> {
  next: (data: T) => void;
  error: (err: TokenpoolError) => void;
  /** The socket is open (on the first subscription, and after every reconnect): changes from now on are delivered. */
  connected?: () => void;
}

export class Subscriptions {
  #client: WsClient | undefined;
  readonly #options: SubscriptionsOptions;
  /** The `connected` handlers of the live subscriptions. */
  readonly #onConnected = new Set<() => void>();
  #isConnected = false;

  constructor(options: SubscriptionsOptions) {
    this.#options = options;
  }

  /** Starts a subscription; returns a function that stops it. */
  subscribe<T>(query: string, handlers: SubscribeHandlers<T>): () => void {
    const client = (this.#client ??= this.#create());
    const connected = handlers.connected;
    if (connected) {
      this.#onConnected.add(connected);
      // Joining a socket that is already open: it will not announce itself again.
      if (this.#isConnected) queueMicrotask(connected);
    }
    const unsubscribe = client.subscribe<T>(
      { query },
      {
        next: (result) => {
          if (result.errors?.length) handlers.error(fromGraphQLErrors(result.errors));
          else if (result.data) handlers.next(result.data as T);
        },
        error: (err) => handlers.error(toTokenpoolError(err)),
        complete: () => undefined,
      },
    );
    return () => {
      if (connected) this.#onConnected.delete(connected);
      unsubscribe();
    };
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.dispose();
  }

  #create(): WsClient {
    const url = `${this.#options.url.replace(/\/+$/, '').replace(/^http/, 'ws')}/graphql`;
    return createClient({
      url,
      webSocketImpl: this.#options.webSocketImpl ?? WebSocket,
      connectionParams: () => this.#options.connectionParams(),
      lazy: true,
      keepAlive: 10_000,
      retryAttempts: Number.MAX_SAFE_INTEGER,
      retryWait: (retries) => sleep(backoffDelay(retries, undefined, { baseMs: 500, maxMs: 10_000 })),
      shouldRetry: (errOrClose) => !isAuthClose(errOrClose),
      on: {
        connected: () => {
          this.#isConnected = true;
          for (const listener of [...this.#onConnected]) listener();
        },
        closed: () => {
          this.#isConnected = false;
        },
      },
    });
  }
}

function closeCode(value: unknown): number | undefined {
  return isRecord(value) && typeof value.code === 'number' ? value.code : undefined;
}

function isAuthClose(value: unknown): boolean {
  const code = closeCode(value);
  return code === 4401 || code === 4403;
}

function toTokenpoolError(err: unknown): TokenpoolError {
  if (err instanceof TokenpoolError) return err;
  if (Array.isArray(err)) return fromGraphQLErrors(err);
  const code = closeCode(err);
  if (code === 4401) return new TokenpoolError('UNAUTHENTICATED', 'the WebSocket was refused: unknown, revoked or expired key');
  if (code === 4403) return new TokenpoolError('FORBIDDEN', 'the WebSocket was refused for this key');
  const reason = isRecord(err) && typeof err.reason === 'string' && err.reason ? `: ${err.reason}` : err instanceof Error ? `: ${err.message}` : '';
  return new TokenpoolError('UNAVAILABLE', `the subscription ended${code ? ` (close code ${code})` : ''}${reason}`, { cause: err });
}
