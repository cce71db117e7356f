import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { GraphQLError } from 'graphql';
import { AppError } from '../common/errors/app-error';
import { GraphqlSourceCheck } from '../common/graphql/source-limits';
import { APP_CONFIG, AppConfig } from '../config/env';
import { ApiKeyLookup } from './api-key-lookup';
import type { AuthContext } from './auth-context';

/** The part of a `ws` WebSocket this service uses. */
export interface TrackedSocket {
  send(data: unknown, ...rest: unknown[]): void;
  close(code?: number, reason?: string): void;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * The Mercurius subscription connection (lib/subscription-connection.js) that authenticated:
 * its socket, and the method it hands each incoming message to, one at a time.
 */
export interface TrackedConnection {
  socket: TrackedSocket;
  handleMessage(message: unknown, isBinary: boolean): Promise<void>;
}

interface SocketState {
  /** Every key that authenticated on this socket (connection_init, or a start's connectionInit extension). */
  keys: Map<string, AuthContext>;
  /** Subscription ids running on it. */
  active: Set<string>;
}

/** graphql-ws close code for a refused authorization: clients do not reconnect with the same key. */
export const CLOSE_FORBIDDEN = 4403;
const CHECK_EVERY_MS = 2000;

/**
 * Bounds what one WebSocket may hold and ends the sockets of keys that stopped working.
 * Mercurius authenticates a socket once, at connection_init, and keeps the answer for the
 * socket's life; so every CHECK_EVERY_MS the keys of open sockets are read again from the
 * database (never the key cache) and a socket whose key was revoked or expired is closed:
 * within CHECK_EVERY_MS plus one query, inside the 5 s the README promises.
 */
@Injectable()
export class SubscriptionSocketsService implements OnModuleDestroy {
  private readonly logger = new Logger(SubscriptionSocketsService.name);
  private readonly sockets = new Map<TrackedSocket, SocketState>();
  private timer?: NodeJS.Timeout;
  private checking = false;
  private readonly sources: GraphqlSourceCheck;

  constructor(
    private readonly apiKeys: ApiKeyLookup,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.sources = new GraphqlSourceCheck(config.graphqlMaxTokens);
  }

  /**
   * A key authenticated on the connection (connection_init, or a start's connectionInit
   * extension). RATE_LIMITED when the key already holds SOCKETS_PER_KEY other open sockets on
   * this process (a client that leaks connections cannot exhaust the server).
   */
  track(connection: TrackedConnection, auth: AuthContext): void {
    const socket = connection.socket;
    let state = this.sockets.get(socket);
    if (!state?.keys.has(auth.keyId)) {
      let held = 0;
      for (const other of this.sockets.values()) if (other.keys.has(auth.keyId)) held += 1;
      if (held >= this.config.socketsPerKey) {
        throw new AppError('RATE_LIMITED', `This API key holds ${held} open WebSockets on this server (SOCKETS_PER_KEY); close one before opening another`, {
          retryAfterSeconds: 1,
        });
      }
    }
    if (!state) {
      state = { keys: new Map(), active: new Set() };
      this.sockets.set(socket, state);
      watchEnds(socket, state.active);
      checkStarts(connection, this.sources);
      socket.once('close', () => this.sockets.delete(socket));
      this.timer ??= setInterval(() => void this.checkKeys(), CHECK_EVERY_MS).unref();
    }
    state.keys.set(auth.keyId, auth);
  }

  /** A subscription starts: refused past SUBSCRIPTIONS_PER_SOCKET, or when its id is already running. */
  open(socket: TrackedSocket | undefined, id: string): void {
    const state = socket && this.sockets.get(socket);
    if (!state) throw new AppError('UNAUTHENTICATED', 'Send your API key in connection_init before subscribing');
    if (state.active.has(id)) throw AppError.badInput('id', `A subscription with id ${id} is already running on this connection; use a new id`);
    const max = this.config.subscriptionsPerSocket;
    if (state.active.size >= max) {
      throw new AppError(
        'RATE_LIMITED',
        `This connection already holds ${max} subscriptions (SUBSCRIPTIONS_PER_SOCKET); complete one or open another connection`,
        {
          retryAfterSeconds: 1,
        },
      );
    }
    state.active.add(id);
  }

  /** The client completed a subscription. */
  end(socket: TrackedSocket | undefined, id: string): void {
    if (socket) this.sockets.get(socket)?.active.delete(id);
  }

  /** Closes every socket that a revoked or expired key authenticated. */
  async checkKeys(): Promise<void> {
    if (this.checking || this.sockets.size === 0) return;
    this.checking = true;
    try {
      const keyIds = new Set<string>();
      for (const state of this.sockets.values()) for (const keyId of state.keys.keys()) keyIds.add(keyId);
      const valid = await this.apiKeys.stillValid([...keyIds]);
      const now = Date.now();
      for (const [socket, state] of this.sockets) {
        const lapsed = [...state.keys.values()].some((auth) => !valid.has(auth.keyId) || (auth.expiresAt !== null && auth.expiresAt.getTime() <= now));
        if (!lapsed) continue;
        this.sockets.delete(socket);
        socket.close(CLOSE_FORBIDDEN, 'The API key was revoked or has expired');
      }
    } catch (err) {
      // The database is down: keep the sockets and try again at the next tick.
      this.logger.warn(`Could not re-check the keys of open WebSockets: ${(err as Error).message}`);
    } finally {
      this.checking = false;
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }
}

/**
 * Frees a subscription's place when the server ends it: Mercurius has no hook for a
 * subscription that failed to start or that completed, but it always tells the client,
 * with an `error` or `complete` message naming the id. Mercurius writes `type` first.
 */
function watchEnds(socket: TrackedSocket, active: Set<string>): void {
  const send = socket.send.bind(socket);
  socket.send = (data: unknown, ...rest: unknown[]) => {
    if (typeof data === 'string' && (data.startsWith('{"type":"error"') || data.startsWith('{"type":"complete"'))) {
      const { id } = JSON.parse(data) as { id?: unknown };
      if (typeof id === 'string') active.delete(id);
    }
    send(data, ...rest);
  };
}

/**
 * Checks the document of every subscribe message before Mercurius handles it: Mercurius
 * parses it with no hook before (recursively, so deep nesting overflows the stack) and takes
 * a non-string `query` as a ready syntax tree. Installed while the connection handles its
 * connection_init, so it sees every later message, also one the client sent right behind
 * the init (Mercurius handles a connection's messages one after another). A refused start is
 * answered here, with an `error` message for its id, and never reaches Mercurius.
 */
function checkStarts(connection: TrackedConnection, sources: GraphqlSourceCheck): void {
  const handle = connection.handleMessage.bind(connection);
  connection.handleMessage = async (message: unknown, isBinary: boolean) => {
    const refusal = startRefusal(message, sources);
    if (!refusal) return handle(message, isBinary);
    const error = { message: refusal.error.message, extensions: refusal.error.extensions };
    connection.socket.send(JSON.stringify({ type: 'error', id: refusal.id, payload: [error] }));
  };
}

function startRefusal(data: unknown, sources: GraphqlSourceCheck): { id: unknown; error: GraphQLError } | undefined {
  let message: { type?: unknown; id?: unknown; payload?: { query?: unknown } };
  try {
    message = JSON.parse(String(data)) as typeof message;
  } catch {
    return undefined; // Mercurius answers a message that is not JSON itself.
  }
  if (message?.type !== 'subscribe' && message?.type !== 'start') return undefined;
  try {
    sources.assert(message.payload?.query);
    return undefined;
  } catch (err) {
    return { id: message.id, error: err as GraphQLError };
  }
}
