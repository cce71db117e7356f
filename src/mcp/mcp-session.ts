import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthContext } from '../auth/auth-context';

/** A lease checked out through the session, kept alive by the server while the session lives. */
export interface HeldLease {
  leaseId: string;
  leaseSeconds: number;
  /** When the server heartbeats it next (ms): a quarter of its length after the last heartbeat. */
  nextBeatAt: number;
}

/**
 * One MCP session on this replica: the key that opened it, its McpServer and transport, the
 * leases it holds and the resources it subscribed to. It is alive while a request or stream
 * of it is open, and for MCP_SESSION_IDLE_SECONDS after the last one ended.
 */
export class McpSession {
  /** Leases by id; the server heartbeats them and checks them in when the session closes. */
  readonly leases = new Map<string, HeldLease>();
  /** Resource URIs the client subscribed to (tokenpool://pools, tokenpool://pools/<id>). */
  readonly subscriptions = new Set<string>();
  /** Requests and streams of the session now open (a GET stream counts for as long as it is open). */
  inFlight = 0;
  /** When the last request began or ended (ms). */
  lastSeenAt = Date.now();
  closed = false;
  /** A heartbeat round of this session is running (ticks do not overlap it). */
  beating = false;

  constructor(
    readonly id: string,
    /** The key that opened the session; refreshed by each request of the same key. */
    public auth: AuthContext,
    readonly server: McpServer,
    readonly transport: StreamableHTTPServerTransport,
  ) {}

  hold(leaseId: string, leaseSeconds: number, now = Date.now()): void {
    this.leases.set(leaseId, { leaseId, leaseSeconds, nextBeatAt: now + beatIntervalMs(leaseSeconds) });
  }

  /** Begins a request or stream; the returned function ends it (once). */
  begin(): () => void {
    this.inFlight++;
    this.lastSeenAt = Date.now();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight--;
      this.lastSeenAt = Date.now();
    };
  }

  idleFor(now: number): number {
    return this.inFlight > 0 ? 0 : now - this.lastSeenAt;
  }
}

/** A quarter of the lease's length: three heartbeats can fail before it runs out. */
export function beatIntervalMs(leaseSeconds: number): number {
  return Math.max(500, Math.floor((leaseSeconds * 1000) / 4));
}
