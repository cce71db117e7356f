import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { TestApp } from './support/app';
import { createPool } from './support/catalog';
import { ApiProcess, freePort, Spawned, startApi, waitFor } from './support/processes';
import { TOOL_NAMES } from './support/mcp-tools';

const IDLE_SECONDS = 3;
const LEASE_SECONDS = 5;
const ORPHAN_LEASE_SECONDS = 20;
const BIN = join(__dirname, '..', 'packages', 'cli', 'bin', 'tokenpool.js');

type ToolAnswer = { isError?: boolean; structuredContent?: Record<string, unknown> };

describe('MCP over stdio: `tokenpool mcp` relays to the server', () => {
  let t: TestApp;
  let api: ApiProcess;
  let adminKey: string;
  let clientKey: string;
  let poolId: string;
  let app: string;
  const open: StdioClientTransport[] = [];

  async function bridge(url = api.url): Promise<{ client: Client; transport: StdioClientTransport }> {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp'],
      env: { ...env, TOKENPOOL_URL: url, TOKENPOOL_API_KEY: clientKey },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'mcp-stdio-e2e', version: '1.0.0' });
    await client.connect(transport);
    open.push(transport);
    return { client, transport };
  }

  async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
    return (await client.callTool({ name, arguments: args })) as ToolAnswer;
  }

  async function inUse(): Promise<number> {
    const res = await t.gql<{ pool: { inUse: number } }>(adminKey, 'query($id: ID!) { pool(id: $id) { inUse } }', { id: poolId });
    return res.data!.pool.inUse;
  }

  async function leaseState(id: string): Promise<string> {
    const res = await t.gql<{ lease: { state: string } }>(adminKey, 'query($id: ID!) { lease(id: $id) { state } }', { id });
    return res.data!.lease.state;
  }

  beforeAll(async () => {
    t = await TestApp.start();
    api = await startApi({ MCP_SESSION_IDLE_SECONDS: String(IDLE_SECONDS) });
    const org = await t.organization('mcp-stdio');
    adminKey = org.adminKey;
    clientKey = (await t.principalWithKey(adminKey, 'CLIENT', { kind: 'AGENT' })).key;
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'solver', cost: 6 }], defaultLeaseSeconds: LEASE_SECONDS });
    poolId = pool.poolId;
    app = pool.keyOf('solver');
  });

  afterAll(async () => {
    await Promise.all(open.map((transport) => transport.close().catch(() => undefined)));
    await api?.stop();
    await t?.close();
  });

  it('lists the tools, checks out and in (inUse up and back), and answers a refusal as isError POOL_EXHAUSTED with retryAfterSeconds', async () => {
    const { client } = await bridge();
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(TOOL_NAMES);

    const out = await call(client, 'checkout', { pool: poolId, app });
    const lease = out.structuredContent!.lease as { leaseId: string; credits: number };
    expect(lease.credits).toBe(6);
    expect(await inUse()).toBe(6);

    const refused = await call(client, 'checkout', { pool: poolId, app });
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toMatchObject({ code: 'POOL_EXHAUSTED', available: 4, requested: 6, retryAfterSeconds: expect.any(Number) });

    await call(client, 'checkin', { leaseId: lease.leaseId });
    expect(await inUse()).toBe(0);
  });

  it('checks the session’s leases in, not left to expire, when the host closes stdin, and exits', async () => {
    const { client, transport } = await bridge();
    const out = await call(client, 'checkout', { pool: poolId, app, leaseSeconds: 60 });
    const leaseId = (out.structuredContent!.lease as { leaseId: string }).leaseId;
    expect(await inUse()).toBe(6);
    const pid = transport.pid!;
    await client.close();
    // The bridge gives itself 5 s to check in; the waits are longer so a loaded machine only
    // slows the test. A lease left to expire would read EXPIRED, and only after its 60 s.
    await waitFor(async () => (await inUse()) === 0, 'the credits back', 30_000);
    expect(await leaseState(leaseId)).toBe('RELEASED');
    await waitFor(async () => !alive(pid), 'the bridge to exit', 30_000);
  });

  it('opens a new server session when the server holding it goes away; the old session’s lease expires by its length', async () => {
    const port = await freePort();
    const first = await apiOnPort(port);
    const { client } = await bridge(`http://127.0.0.1:${port}`);
    // Long enough to outlast a second server's start on a loaded machine.
    const out = await call(client, 'checkout', { pool: poolId, app, leaseSeconds: ORPHAN_LEASE_SECONDS });
    const leaseId = (out.structuredContent!.lease as { leaseId: string }).leaseId;
    first.signal('SIGKILL');
    await first.exited;
    const second = await apiOnPort(port);
    try {
      // The bridge finds its session unknown (404), opens a new one and answers the call.
      const mine = await call(client, 'my_leases');
      expect(mine.isError).toBeFalsy();
      expect(mine.structuredContent!.leases).toEqual([expect.objectContaining({ leaseId, heldBySession: false })]);
      // The new session does not hold it: it expires by its length (a check-in would read RELEASED).
      await waitFor(async () => (await leaseState(leaseId)) === 'EXPIRED', 'the old session’s lease to expire', (ORPHAN_LEASE_SECONDS + 30) * 1000);
      expect((await call(client, 'my_leases')).structuredContent!.leases).toEqual([]);
      const again = await call(client, 'checkout', { pool: poolId, app, leaseSeconds: LEASE_SECONDS });
      expect(again.isError).toBeFalsy();
    } finally {
      await client.close();
      await second.stop();
    }
  }, 150_000);

  it('answers the host an error for a key the server refuses, and exits 77', async () => {
    const proc = spawn(process.execPath, [BIN, 'mcp'], {
      env: { ...process.env, TOKENPOOL_URL: api.url, TOKENPOOL_API_KEY: `tp_${'0'.repeat(64)}` },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const bridged = new Spawned(proc);
    let stdout = '';
    proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    };
    proc.stdin!.write(`${JSON.stringify(initialize)}\n`);
    expect(await bridged.exited).toBe(77);
    const answer = JSON.parse(stdout.trim().split('\n')[0]) as { id: number; error: { message: string } };
    expect(answer.id).toBe(1);
    expect(answer.error.message).toContain('UNAUTHENTICATED');
    expect(bridged.output).not.toContain('0'.repeat(64));
  });

  it('frees the credits of a bridge killed with SIGKILL within the idle time plus the lease length', async () => {
    const { client, transport } = await bridge();
    const out = await call(client, 'checkout', { pool: poolId, app, leaseSeconds: LEASE_SECONDS });
    const leaseId = (out.structuredContent!.lease as { leaseId: string }).leaseId;
    expect(await inUse()).toBe(6);
    const killedAt = Date.now();
    process.kill(transport.pid!, 'SIGKILL');
    // Measured by the lease's recorded end, not by how fast this test polls.
    await waitFor(async () => (await inUse()) === 0, 'the credits back', (IDLE_SECONDS + LEASE_SECONDS) * 1000 + 30_000);
    const lease = await t.gql<{ lease: { state: string; endedAt: string } }>(adminKey, 'query($id: ID!) { lease(id: $id) { state endedAt } }', { id: leaseId });
    expect(lease.data!.lease.state).not.toBe('ACTIVE');
    expect(Date.parse(lease.data!.lease.endedAt) - killedAt).toBeLessThanOrEqual((IDLE_SECONDS + LEASE_SECONDS) * 1000);
  });
});

/** `node dist/main.js` on a given port (startApi picks its own), so a restarted server answers at the same URL. */
async function apiOnPort(port: number): Promise<Spawned> {
  const api = new Spawned(
    spawn(process.execPath, [join(__dirname, '..', 'dist', 'main.js')], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', METRICS_PORT: '0', DATABASE_POOL_MAX: '6', MCP_SESSION_IDLE_SECONDS: String(IDLE_SECONDS) },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, `API on port ${port}`);
  return api;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
