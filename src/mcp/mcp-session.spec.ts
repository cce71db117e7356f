import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthContext } from '../auth/auth-context';
import { beatIntervalMs, McpSession } from './mcp-session';

const auth: AuthContext = {
  keyId: 'k',
  organizationId: 'o',
  principalId: 'p',
  principalKind: 'AGENT',
  team: null,
  role: 'CLIENT',
  expiresAt: null,
};

describe('an MCP session', () => {
  it('heartbeats a lease a quarter of its length apart, never more often than every 500 ms', () => {
    expect(beatIntervalMs(5)).toBe(1250);
    expect(beatIntervalMs(300)).toBe(75_000);
    expect(beatIntervalMs(1)).toBe(500);
  });

  it('is never idle while a request or stream is open, and idle from the moment the last one ended', () => {
    const session = new McpSession('s', auth, {} as McpServer, {} as StreamableHTTPServerTransport);
    const endStream = session.begin();
    const endCall = session.begin();
    expect(session.idleFor(Date.now() + 60_000)).toBe(0);
    endCall();
    endCall(); // ending twice counts once
    expect(session.inFlight).toBe(1);
    endStream();
    const endedAt = session.lastSeenAt;
    expect(session.idleFor(endedAt + 3000)).toBe(3000);
  });

  it('schedules a held lease’s first heartbeat a quarter of its length after the check-out', () => {
    const session = new McpSession('s', auth, {} as McpServer, {} as StreamableHTTPServerTransport);
    session.hold('l1', 60, 1_000_000);
    expect(session.leases.get('l1')).toEqual({ leaseId: 'l1', leaseSeconds: 60, nextBeatAt: 1_015_000 });
  });
});
