import { randomUUID } from 'node:crypto';
import { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TestApp } from './support/app';
import { answerProblems, ForeignData, lookalike, stringsOf } from './support/leak-check';
import { SeededOrganization, seedOrganization } from './support/tenant-fixtures';

/**
 * Promise 5 over MCP: organization A's three keys call every tool and read every resource
 * with organization B's ids, names, app key and work-unit ref. No answer may show anything of
 * B that the call did not carry, or fail with an internal error; each must read as the answer
 * for a look-alike value that names nothing (or it tells A that B's object exists); and B's
 * lease, work unit and pool are as they were.
 */

type Role = 'ADMIN' | 'CLIENT' | 'VIEWER';
type Args = Record<string, unknown>;

describe('MCP isolation: another organization’s ids and names, through every tool and resource', () => {
  let t: TestApp;
  let url: URL;
  let a: SeededOrganization;
  let b: SeededOrganization;
  let foreign: ForeignData;
  let bPoolName: string;
  let bRef: string;
  const clients: Client[] = [];

  async function connect(key: string): Promise<Client> {
    const client = new Client({ name: 'mcp-isolation', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
    clients.push(client);
    return client;
  }

  async function bState() {
    const res = await t.gql<{ lease: { state: string }; workUnit: { outcome: string; process: string; computeInputTokens: number }; pool: { inUse: number } }>(
      b.adminKey,
      'query($l: ID!, $w: ID!, $p: ID!) { lease(id: $l) { state } workUnit(id: $w) { outcome process computeInputTokens } pool(id: $p) { inUse } }',
      { l: b.leaseId, w: b.workUnitId, p: b.poolId },
    );
    return res.data;
  }

  beforeAll(async () => {
    t = await TestApp.start();
    await t.app.listen(0, '127.0.0.1');
    url = new URL(`http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/mcp`);
    a = await seedOrganization(t, 'aown');
    b = await seedOrganization(t, 'bsecret');
    const names = await t.gql<{ pool: { name: string }; workUnit: { externalRef: string } }>(
      b.adminKey,
      'query($p: ID!, $w: ID!) { pool(id: $p) { name } workUnit(id: $w) { externalRef } }',
      { p: b.poolId, w: b.workUnitId },
    );
    bPoolName = names.data!.pool.name;
    bRef = names.data!.workUnit.externalRef;
    // Every string seedOrganization made for B starts with "bsecret": any of them in an answer is a leak.
    foreign = {
      strings: ['bsecret', bPoolName, b.appKey, bRef, ...b.secrets, ...(b.proof ? [b.proof] : [])],
      uuids: [b.organizationId, b.poolId, b.appId, b.leaseId, b.workUnitId, b.principalId, b.spareKeyId],
    };
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await t?.close();
  });

  /** Each tool with arguments naming B's objects; the look-alike run swaps each of B's values for one that names nothing. */
  function calls(): [string, Args][] {
    return [
      ['list_pools', {}],
      ['my_leases', {}],
      ['quote', { pool: b.poolId, app: b.appKey }],
      ['quote', { pool: bPoolName, app: b.appKey }],
      ['quote', { pool: a.poolId, app: b.appKey }],
      ['checkout', { pool: b.poolId, app: b.appKey }],
      ['checkout', { pool: bPoolName, app: b.appKey, waitSeconds: 1 }],
      ['checkout', { pool: a.poolId, app: b.appKey }],
      ['checkin', { leaseId: b.leaseId }],
      ['start_work_unit', { externalRef: bRef, process: 'aown-process' }],
      ['record_usage', { provider: 'aown', model: 'aown-model', inputTokens: 5, outputTokens: 1, workUnit: bRef }],
      ['record_outcome', { workUnit: bRef, outcome: 'REJECTED' }],
    ];
  }

  /** One stand-in per value of B, kept across calls and roles, so the look-alike run builds the same state of A as the real one. */
  const standIns = new Map<string, string>();
  function swapForeign(args: Args): Args {
    const out: Args = {};
    for (const [name, value] of Object.entries(args)) {
      const isForeign = typeof value === 'string' && (foreign.uuids.includes(value) || foreign.strings.includes(value));
      if (isForeign && !standIns.has(value)) standIns.set(value, foreign.uuids.includes(value) ? randomUUID() : lookalike(value));
      out[name] = isForeign ? standIns.get(value) : value;
    }
    return out;
  }

  /** What a tool answer says, without its values: error or not, the code, and the shape of what came back. */
  function outlineOf(result: { isError?: boolean; structuredContent?: Record<string, unknown> }): string {
    const content = result.structuredContent ?? {};
    const shape = JSON.stringify(content, (key, value: unknown) =>
      key === 'message' ? 'text' : value === null || typeof value === 'object' ? value : typeof value,
    );
    return `${result.isError ? `error ${String(content.code)}` : 'ok'} ${shape}`;
  }

  it.each<Role>(['ADMIN', 'CLIENT', 'VIEWER'])('shows %s keys of A nothing of B, and answers B’s objects as objects that do not exist', async (role) => {
    const before = await bState();
    const key = role === 'ADMIN' ? a.adminKey : role === 'CLIENT' ? a.clientKey : a.viewerKey;
    const client = await connect(key);
    const problems: string[] = [];
    for (const [name, args] of calls()) {
      const result = (await client.callTool({ name, arguments: args })) as { isError?: boolean; structuredContent?: Record<string, unknown> };
      const text = JSON.stringify(result);
      for (const p of answerProblems({ status: 200, text }, stringsOf(args), foreign))
        problems.push(`${name} ${JSON.stringify(args)} ${p}: ${text.slice(0, 300)}`);
      const unknown = (await client.callTool({ name, arguments: swapForeign(args) })) as typeof result;
      if (outlineOf(result) !== outlineOf(unknown))
        problems.push(`${name} ${JSON.stringify(args)} answers B's objects unlike nonexistent ones: ${outlineOf(result)} vs ${outlineOf(unknown)}`);
    }
    for (const uri of ['tokenpool://pools', `tokenpool://pools/${b.poolId}`]) {
      const read = await client.readResource({ uri }).then(
        (r) => JSON.stringify(r),
        (err: Error) => `rejected: ${err.message}`,
      );
      for (const p of answerProblems({ status: 200, text: read }, [uri, uri.slice('tokenpool://pools/'.length)], foreign))
        problems.push(`read ${uri} ${p}: ${read.slice(0, 300)}`);
    }
    await expect(client.subscribeResource({ uri: `tokenpool://pools/${b.poolId}` })).rejects.toThrow(/No pool/);
    const { resources } = await client.listResources();
    expect(JSON.stringify(resources)).not.toContain('bsecret');
    expect(problems).toEqual([]);
    expect(await bState()).toEqual(before);
  });
});
