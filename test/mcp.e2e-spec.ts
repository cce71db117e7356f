import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { TestApp } from './support/app';
import { createPool } from './support/catalog';
import { ApiProcess, Spawned, startApi, waitFor } from './support/processes';
import { TOOL_NAMES } from './support/mcp-tools';

const IDLE_SECONDS = 3;
const LEASE_SECONDS = 5;

interface Tenant {
  adminKey: string;
  clientKey: string;
  viewerKey: string;
  poolId: string;
  poolName: string;
  app: string;
}

type ToolAnswer = { isError?: boolean; structuredContent?: Record<string, unknown> };

describe('MCP server over Streamable HTTP', () => {
  let t: TestApp;
  let api: ApiProcess;
  let tenant: Tenant;
  const clients: Client[] = [];

  async function connect(key: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
    const transport = new StreamableHTTPClientTransport(new URL(`${api.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } });
    const client = new Client({ name: 'mcp-e2e', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    return { client, transport };
  }

  /** A bare initialize request, as any MCP client's first. */
  function initialize(key: string | null): Promise<Response> {
    return fetch(`${api.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      }),
    });
  }

  async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
    return (await client.callTool({ name, arguments: args })) as ToolAnswer;
  }

  async function inUse(poolId = tenant.poolId): Promise<number> {
    const res = await t.gql<{ pool: { inUse: number } }>(tenant.adminKey, 'query($id: ID!) { pool(id: $id) { inUse } }', { id: poolId });
    return res.data!.pool.inUse;
  }

  async function leaseState(id: string): Promise<string> {
    const res = await t.gql<{ lease: { state: string } }>(tenant.adminKey, 'query($id: ID!) { lease(id: $id) { state } }', { id });
    return res.data!.lease.state;
  }

  async function leaseEnd(id: string): Promise<string> {
    const res = await t.gql<{ lease: { endedAt: string } }>(tenant.adminKey, 'query($id: ID!) { lease(id: $id) { endedAt } }', { id });
    return res.data!.lease.endedAt;
  }

  async function newTenant(cap = 10): Promise<Tenant> {
    const org = await t.organization('mcp');
    const client = await t.principalWithKey(org.adminKey, 'CLIENT', { kind: 'AGENT', name: 'agent' });
    const viewer = await t.principalWithKey(org.adminKey, 'VIEWER');
    const pool = await createPool(t, org.adminKey, { cap, apps: [{ key: 'solver', cost: 6 }], defaultLeaseSeconds: LEASE_SECONDS });
    const names = await t.gql<{ pool: { name: string } }>(org.adminKey, 'query($id: ID!) { pool(id: $id) { name } }', { id: pool.poolId });
    return {
      adminKey: org.adminKey,
      clientKey: client.key,
      viewerKey: viewer.key,
      poolId: pool.poolId,
      poolName: names.data!.pool.name,
      app: pool.keyOf('solver'),
    };
  }

  beforeAll(async () => {
    t = await TestApp.start();
    api = await startApi({ MCP_SESSION_IDLE_SECONDS: String(IDLE_SECONDS) });
    tenant = await newTenant();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await api?.stop();
    await t?.close();
  });

  it('lists the eleven tools, each with a description and an input schema', async () => {
    const { client } = await connect(tenant.clientKey);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(TOOL_NAMES);
    for (const tool of tools) {
      expect(tool.description!.length).toBeGreaterThan(80);
      expect(tool.inputSchema.type).toBe('object');
    }
    const checkout = tools.find((tool) => tool.name === 'checkout')!;
    expect(checkout.inputSchema.required).toEqual(['pool', 'app']);
  });

  it('checks out by pool name and in again, moving inUse up and back; a refusal is isError POOL_EXHAUSTED with retryAfterSeconds', async () => {
    const { client } = await connect(tenant.clientKey);
    const pools = await call(client, 'list_pools');
    expect(pools.structuredContent!.pools).toEqual([
      expect.objectContaining({ id: tenant.poolId, cap: 10, inUse: 0, available: 10, apps: [expect.objectContaining({ key: tenant.app, cost: 6 })] }),
    ]);

    const out = await call(client, 'checkout', { pool: tenant.poolName, app: tenant.app });
    expect(out.isError).toBeFalsy();
    const lease = out.structuredContent!.lease as Record<string, unknown>;
    expect(lease).toMatchObject({ credits: 6, state: 'ACTIVE', heldBySession: true });
    expect(lease.proof).toEqual(expect.stringMatching(/^ey/));
    expect(await inUse()).toBe(6);

    const refused = await call(client, 'checkout', { pool: tenant.poolId, app: tenant.app });
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toMatchObject({ code: 'POOL_EXHAUSTED', available: 4, requested: 6 });
    expect(refused.structuredContent!.retryAfterSeconds).toEqual(expect.any(Number));

    const mine = await call(client, 'my_leases');
    expect(mine.structuredContent!.leases).toEqual([expect.objectContaining({ leaseId: lease.leaseId, heldBySession: true, app: tenant.app })]);

    const back = await call(client, 'checkin', { leaseId: lease.leaseId });
    expect(back.structuredContent!.lease).toMatchObject({ state: 'RELEASED' });
    expect(await inUse()).toBe(0);

    const metrics = await (await fetch(api.metricsUrl)).text();
    expect(metrics).toMatch(/tokenpool_mcp_tool_calls_total\{tool="checkout",outcome="POOL_EXHAUSTED"\} [1-9]/);
    expect(metrics).toMatch(/tokenpool_mcp_sessions_open [1-9]/);
  });

  it('keeps a session-held lease ACTIVE past its length with no tool call, and frees it within 5 s of the session being closed', async () => {
    const { client, transport } = await connect(tenant.clientKey);
    const out = await call(client, 'checkout', { pool: tenant.poolId, app: tenant.app, leaseSeconds: LEASE_SECONDS });
    const leaseId = (out.structuredContent!.lease as { leaseId: string }).leaseId;
    await new Promise((r) => setTimeout(r, (LEASE_SECONDS + 2) * 1000));
    expect(await leaseState(leaseId)).toBe('ACTIVE');
    expect(await inUse()).toBe(6);

    const closedAt = Date.now();
    await transport.terminateSession();
    await client.close();
    // Checked in (an expiry would read EXPIRED), and by the server's record within 5 s; the
    // wait is longer so a loaded machine only slows the test.
    await waitFor(async () => (await inUse()) === 0, 'the credits back', 30_000);
    expect(await leaseState(leaseId)).toBe('RELEASED');
    expect(Date.parse(await leaseEnd(leaseId)) - closedAt).toBeLessThan(5000);
  });

  it('frees the credits of an HTTP client killed with SIGKILL within the idle time plus the lease length', async () => {
    const script = `
      const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
      const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
      (async () => {
        const transport = new StreamableHTTPClientTransport(new URL(process.env.MCP_URL), { requestInit: { headers: { authorization: 'Bearer ' + process.env.MCP_KEY } } });
        const client = new Client({ name: 'doomed', version: '1.0.0' });
        await client.connect(transport);
        const out = await client.callTool({ name: 'checkout', arguments: { pool: process.env.MCP_POOL, app: process.env.MCP_APP, leaseSeconds: ${LEASE_SECONDS} } });
        console.log(JSON.stringify(out.structuredContent));
        setInterval(() => {}, 1000);
      })();`;
    const child = new Spawned(
      spawn(process.execPath, ['-e', script], {
        cwd: process.cwd(),
        env: { ...process.env, MCP_URL: `${api.url}/mcp`, MCP_KEY: tenant.clientKey, MCP_POOL: tenant.poolId, MCP_APP: tenant.app },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    await waitFor(async () => child.output.includes('"leaseId"'), 'the child holding a lease', 30_000);
    expect(await inUse()).toBe(6);
    const killedAt = Date.now();
    child.signal('SIGKILL');
    await child.exited;
    const leaseId = (JSON.parse(child.output.split('\n').find((line) => line.includes('"leaseId"'))!) as { lease: { leaseId: string } }).lease.leaseId;
    await waitFor(async () => (await inUse()) === 0, 'the credits back', (IDLE_SECONDS + LEASE_SECONDS) * 1000 + 30_000);
    // The session idled out and checked the lease in (faster than an expiry would), as the server recorded it.
    expect(await leaseState(leaseId)).toBe('RELEASED');
    expect(Date.parse(await leaseEnd(leaseId)) - killedAt).toBeLessThan((IDLE_SECONDS + LEASE_SECONDS) * 1000);
  });

  it('ends the sessions of a revoked key within seconds, checking their leases in', async () => {
    const agent = await t.principalWithKey(tenant.adminKey, 'CLIENT', { kind: 'AGENT', name: 'revoked-agent' });
    const { client } = await connect(agent.key);
    await call(client, 'checkout', { pool: tenant.poolId, app: tenant.app, leaseSeconds: 60 });
    expect(await inUse()).toBe(6);
    const revoked = await t.gql(tenant.adminKey, 'mutation($id: ID!) { revokeApiKey(id: $id) }', { id: agent.keyId });
    expect(revoked.errors).toBeUndefined();
    // A 60 s lease: its credits back within the 30 s wait means it was checked in.
    await waitFor(async () => (await inUse()) === 0, 'the revoked key’s lease checked in', 30_000);
    // The session is gone (404), and the key opens no new one (401, once the key cache of at most 2 s has let go).
    await expect(client.callTool({ name: 'my_leases', arguments: {} })).rejects.toThrow(/NOT_FOUND|UNAUTHENTICATED/);
    await waitFor(async () => (await initialize(agent.key)).status === 401, 'a 401 for the revoked key', 30_000);
  });

  it('checks in the leases of its sessions when the API shuts down, and exits without waiting for their streams', async () => {
    const doomed = await startApi({ MCP_SESSION_IDLE_SECONDS: '300' });
    const transport = new StreamableHTTPClientTransport(new URL(`${doomed.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${tenant.clientKey}` } },
    });
    const client = new Client({ name: 'mcp-e2e-shutdown', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    const out = await call(client, 'checkout', { pool: tenant.poolId, app: tenant.app, leaseSeconds: 300 });
    const leaseId = (out.structuredContent!.lease as { leaseId: string }).leaseId;
    expect(await inUse()).toBe(6);
    const stoppedAt = Date.now();
    doomed.signal('SIGTERM');
    expect(await doomed.exited).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    expect(await leaseState(leaseId)).toBe('RELEASED');
    expect(await inUse()).toBe(0);
  });

  it('records usage and an outcome on the work unit, read back through GraphQL', async () => {
    const { client } = await connect(tenant.clientKey);
    const ref = `ticket-${Date.now()}`;
    const started = await call(client, 'start_work_unit', { externalRef: ref, process: 'quoting', task: 'draft' });
    const workUnitId = (started.structuredContent!.workUnit as { id: string }).id;
    const event = {
      provider: 'anthropic',
      model: 'claude-test',
      inputTokens: 1200,
      outputTokens: 300,
      cost: 0.25,
      workUnit: ref,
      eventId: `${ref}-1`,
      occurredAt: new Date().toISOString(),
    };
    const usage = await call(client, 'record_usage', event);
    expect(usage.structuredContent).toMatchObject({ accepted: 1, duplicates: 0, workUnit: { externalRef: ref, totalCost: 0.25 } });
    // A retry of the same event counts once.
    expect((await call(client, 'record_usage', event)).structuredContent).toMatchObject({ accepted: 0, duplicates: 1 });
    const outcome = await call(client, 'record_outcome', {
      workUnit: ref,
      outcome: 'ACCEPTED',
      qualityResult: 'approved',
      valueDimension: 'REVENUE',
      valueAmount: 1000,
    });
    expect(outcome.isError).toBeFalsy();

    const read = await t.gql<{ workUnit: { totalCost: number; computeInputTokens: number; outcome: string; valueAmount: number; process: string } }>(
      tenant.adminKey,
      'query($id: ID!) { workUnit(id: $id) { totalCost computeInputTokens outcome valueAmount process } }',
      { id: workUnitId },
    );
    expect(read.data!.workUnit).toEqual({ totalCost: 0.25, computeInputTokens: 1200, outcome: 'ACCEPTED', valueAmount: 1000, process: 'quoting' });
  });

  it('refuses a VIEWER checkout with FORBIDDEN, shows another organization none of these pools, and answers 401 without a key', async () => {
    const viewer = (await connect(tenant.viewerKey)).client;
    const forbidden = await call(viewer, 'checkout', { pool: tenant.poolId, app: tenant.app });
    expect(forbidden).toMatchObject({ isError: true, structuredContent: { code: 'FORBIDDEN' } });
    expect(await inUse()).toBe(0);

    const other = await newTenant();
    const stranger = (await connect(other.clientKey)).client;
    const pools = await call(stranger, 'list_pools');
    expect((pools.structuredContent!.pools as { id: string }[]).map((p) => p.id)).toEqual([other.poolId]);
    const byId = await call(stranger, 'checkout', { pool: tenant.poolId, app: tenant.app });
    expect(byId).toMatchObject({ isError: true, structuredContent: { code: 'NOT_FOUND' } });
    const byName = await call(stranger, 'quote', { pool: tenant.poolName, app: tenant.app });
    expect(byName).toMatchObject({ isError: true, structuredContent: { code: 'NOT_FOUND' } });
    await expect(stranger.readResource({ uri: `tokenpool://pools/${tenant.poolId}` })).rejects.toThrow(/No pool/);
    expect(JSON.stringify((await stranger.readResource({ uri: 'tokenpool://pools' })).contents)).not.toContain(tenant.poolId);

    const noKey = await initialize(null);
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }] });

    // A session id is the key's own: another key presenting it finds no session.
    const { transport } = await connect(tenant.clientKey);
    const hijack = await fetch(`${api.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${other.clientKey}`,
        'mcp-session-id': transport.sessionId!,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'my_leases', arguments: {} } }),
    });
    expect(hijack.status).toBe(404);
    expect(((await hijack.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe('NOT_FOUND');
  });

  it('serves the pools as resources and notifies a subscribed session when its pool changes', async () => {
    const { client } = await connect(tenant.clientKey);
    const uri = `tokenpool://pools/${tenant.poolId}`;
    const read = await client.readResource({ uri });
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toMatchObject({ id: tenant.poolId, cap: 10, inUse: 0, activeLeases: 0, queueLength: 0 });
    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
    await client.subscribeResource({ uri });
    await client.subscribeResource({ uri: 'tokenpool://pools' });

    const other = (await connect(tenant.clientKey)).client;
    const out = await call(other, 'checkout', { pool: tenant.poolId, app: tenant.app });
    await waitFor(async () => updates.includes(uri) && updates.includes('tokenpool://pools'), 'resource-updated notifications', 30_000);
    await call(other, 'checkin', { leaseId: (out.structuredContent!.lease as { leaseId: string }).leaseId });
  });
});
