import { randomUUID } from 'node:crypto';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ApiKeyLookup } from '../auth/api-key-lookup';
import type { AuthContext } from '../auth/auth-context';
import { AppError } from '../common/errors/app-error';
import { APP_CONFIG, AppConfig } from '../config/env';
import { LeasesService, MAX_BATCH_HEARTBEATS } from '../leases/leases.service';
import { PoolEventsService } from '../pools/pool-events.service';
import { BudgetTools } from './budget-tools';
import { LedgerTools } from './ledger-tools';
import { LeaseTools } from './lease-tools';
import { McpMetrics } from './mcp-metrics';
import { McpResources, POOLS_URI } from './mcp-resources';
import { beatIntervalMs, McpSession } from './mcp-session';

/** How often the registry looks for idle sessions and leases due for a heartbeat. */
const TICK_MS = 500;
/** How often the keys of open sessions are read again: a revoked or expired key's sessions end. */
const KEY_CHECK_MS = 2000;
/** How long closing a session waits for its transport to end its streams. */
const CLOSE_WAIT_MS = 2000;
/** Sessions one API key may hold open on one replica (each holds an McpServer in memory). */
export const MAX_SESSIONS_PER_KEY = 100;

const INSTRUCTIONS = `tokenpool leases shared license credits (engineering tools) and records AI usage per work unit.
Typical flow: list_pools, then start_work_unit for your task, checkout the app you need (this session keeps the lease alive), use the tool, record_usage for your model calls (or, where compute budgets apply, reserve_compute before each model call and settle_compute after it), checkin, and record_outcome when the task ends.
A refusal is a tool result with isError and structuredContent.code; retryAfterSeconds says when to try again.`;

/**
 * The MCP sessions of this replica, kept in memory: one McpServer and transport per session,
 * found by the SDK's session id and used only by the key that opened it. The registry keeps
 * the leases checked out through a session alive (a quarter of their length apart) and
 * checks them in when the session is deleted, idles out (MCP_SESSION_IDLE_SECONDS without a
 * request or an open stream) or the process shuts down. If the process dies, they expire by
 * their length like any lease; the client's next request finds no session (404) and starts a
 * new one.
 */
@Injectable()
export class McpSessionsService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(McpSessionsService.name);
  private readonly sessions = new Map<string, McpSession>();
  private timer?: NodeJS.Timeout;
  private stopListening?: () => void;
  private keysCheckedAt = Date.now();
  private checkingKeys = false;

  constructor(
    private readonly leases: LeasesService,
    private readonly leaseTools: LeaseTools,
    private readonly ledgerTools: LedgerTools,
    private readonly budgetTools: BudgetTools,
    private readonly resources: McpResources,
    private readonly events: PoolEventsService,
    private readonly metrics: McpMetrics,
    private readonly apiKeys: ApiKeyLookup,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    this.stopListening = this.events.onChange((change) => this.poolChanged(change.organizationId, change.poolId));
  }

  /** The session with this id, only for the key that opened it (others get none, as if it did not exist). */
  find(id: string, auth: AuthContext): McpSession | undefined {
    const session = this.sessions.get(id);
    if (!session || session.closed || session.auth.keyId !== auth.keyId) return undefined;
    session.auth = auth;
    return session;
  }

  /** Whether the registry took this session (its initialize succeeded and it is not closed). */
  holds(session: McpSession): boolean {
    return this.sessions.get(session.id) === session;
  }

  /**
   * A new session for this key: its McpServer with every tool and resource, and a transport
   * that enters the registry once the client's initialize request succeeds.
   */
  open(auth: AuthContext): McpSession {
    let held = 0;
    for (const session of this.sessions.values()) if (session.auth.keyId === auth.keyId) held++;
    if (held >= MAX_SESSIONS_PER_KEY) {
      throw new AppError(
        'RATE_LIMITED',
        `This API key holds ${held} MCP sessions on this server, the most it may; close some (DELETE /mcp) or wait until they idle out`,
        {
          retryAfterSeconds: this.config.mcpSessionIdleSeconds,
        },
      );
    }
    const id = randomUUID();
    const server = new McpServer(
      { name: 'tokenpool', version: '1.0.0' },
      { capabilities: { resources: { subscribe: true, listChanged: false }, tools: {} }, instructions: INSTRUCTIONS },
    );
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      onsessioninitialized: () => {
        this.sessions.set(id, session);
        this.metrics.sessionsOpen.set(this.sessions.size);
      },
    });
    const session = new McpSession(id, auth, server, transport);
    transport.onclose = () => void this.close(session, 'closed by the client');
    this.leaseTools.register(server, session);
    this.ledgerTools.register(server, session);
    this.budgetTools.register(server, session);
    this.resources.register(server, session);
    return session;
  }

  /** Connects a session's server to its transport (before its first request). */
  async connect(session: McpSession): Promise<void> {
    await session.server.connect(session.transport);
  }

  /** Ends a session once: out of the registry, its transport closed, its leases checked in. */
  async close(session: McpSession, reason: string): Promise<void> {
    if (session.closed) return;
    session.closed = true;
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
    this.metrics.sessionsOpen.set(this.sessions.size);
    const leaseIds = [...session.leases.keys()];
    session.leases.clear();
    // Leases first: closing the transport waits on its streams, which may belong to a client that is gone.
    await Promise.all(
      leaseIds.map((leaseId) =>
        this.leases
          .checkin(session.auth, leaseId)
          .catch((err: Error) => this.logger.warn(`MCP session ${session.id}: lease ${leaseId} not checked in (${err.message}); it expires by its length`)),
      ),
    );
    await Promise.race([session.server.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
    if (leaseIds.length > 0) this.logger.log(`MCP session ${session.id} ${reason}: checked in ${leaseIds.length} lease(s)`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.stopListening?.();
    await Promise.all([...this.sessions.values()].map((session) => this.close(session, 'closed at shutdown')));
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.keysCheckedAt >= KEY_CHECK_MS) {
      this.keysCheckedAt = now;
      void this.checkKeys();
    }
    const idleMs = this.config.mcpSessionIdleSeconds * 1000;
    for (const session of [...this.sessions.values()]) {
      if (session.idleFor(now) >= idleMs) void this.close(session, `idle for ${this.config.mcpSessionIdleSeconds} s`);
      else void this.heartbeat(session, now);
    }
  }

  /**
   * A session authenticates per request, but its open stream and its server-held leases
   * outlive them: so the keys of open sessions are read again from the database (never the
   * key cache) every KEY_CHECK_MS, and the sessions of a key that was revoked or expired are
   * closed, their leases checked in. If the database cannot answer, the next round tries again.
   */
  private async checkKeys(): Promise<void> {
    if (this.checkingKeys || this.sessions.size === 0) return;
    this.checkingKeys = true;
    try {
      const keyIds = [...new Set([...this.sessions.values()].map((session) => session.auth.keyId))];
      const valid = await this.apiKeys.stillValid(keyIds);
      for (const session of [...this.sessions.values()]) {
        if (!valid.has(session.auth.keyId)) void this.close(session, 'ended: its API key was revoked or expired');
      }
    } catch (err) {
      this.logger.warn(`Could not re-check the keys of MCP sessions (${(err as Error).message}); trying again`);
    } finally {
      this.checkingKeys = false;
    }
  }

  /** Heartbeats the session's leases that are due, in one call; a lease the server says ended leaves the session. */
  private async heartbeat(session: McpSession, now: number): Promise<void> {
    if (session.beating) return;
    // At most one heartbeats call's worth at a time; the rest are due again at the next tick.
    const due = [...session.leases.values()].filter((lease) => lease.nextBeatAt <= now).slice(0, MAX_BATCH_HEARTBEATS);
    if (due.length === 0) return;
    session.beating = true;
    try {
      const answers = await this.leases.heartbeatMany(
        session.auth,
        due.map((lease) => lease.leaseId),
        false,
      );
      for (const answer of answers) {
        const held = session.leases.get(answer.leaseId);
        if (!held) continue;
        const code = answer.error?.code;
        if (code === 'LEASE_NOT_ACTIVE' || code === 'NOT_FOUND') session.leases.delete(answer.leaseId);
        // UNAVAILABLE and the like: try again soon, the lease has three quarters of its length left.
        else held.nextBeatAt = Date.now() + (answer.lease ? beatIntervalMs(held.leaseSeconds) : 1000);
      }
    } catch (err) {
      this.logger.warn(`MCP session ${session.id}: heartbeat failed (${(err as Error).message}); retrying`);
      for (const lease of due) lease.nextBeatAt = Date.now() + 1000;
    } finally {
      session.beating = false;
    }
  }

  private poolChanged(organizationId: string, poolId: string): void {
    const uris = [POOLS_URI, `${POOLS_URI}/${poolId}`];
    for (const session of this.sessions.values()) {
      if (session.auth.organizationId !== organizationId) continue;
      for (const uri of uris) {
        if (session.subscriptions.has(uri)) session.server.server.sendResourceUpdated({ uri }).catch(() => undefined);
      }
    }
  }
}
