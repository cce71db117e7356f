import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { TestApp } from './support/app';
import { createPool } from './support/catalog';

interface Message {
  type: string;
  id?: string;
  payload?: unknown;
}

/** A raw graphql-transport-ws connection, so a test controls ids and sees every frame. */
class RawSocket {
  readonly messages: Message[] = [];
  closed?: { code: number; reason: string };
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => this.messages.push(JSON.parse(String(data)) as Message));
    ws.on('close', (code, reason) => (this.closed = { code, reason: String(reason) }));
  }

  static async open(url: string, key: string): Promise<RawSocket> {
    const ws = new WebSocket(url, 'graphql-transport-ws');
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const socket = new RawSocket(ws);
    socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } });
    await socket.next((m) => m.type === 'connection_ack');
    return socket;
  }

  send(message: Message): void {
    this.ws.send(JSON.stringify(message));
  }

  subscribe(id: string, query: string, variables?: Record<string, unknown>): void {
    this.send({ type: 'subscribe', id, payload: { query, variables } });
  }

  /** The first message (from the start) that matches; the jest timeout guards against a hang. */
  async next(match: (m: Message) => boolean): Promise<Message> {
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      if (this.closed) throw new Error(`closed ${JSON.stringify(this.closed)} before the expected message; got ${JSON.stringify(this.messages)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async errorOf(id: string): Promise<{ message: string; extensions?: { code?: string } }> {
    const error = await this.next((m) => m.id === id && m.type === 'error');
    return (error.payload as { message: string; extensions?: { code?: string } }[])[0];
  }

  async whenClosed(): Promise<{ code: number; reason: string }> {
    while (!this.closed) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close(): void {
    this.ws.close();
  }
}

const WATCH = 'subscription($p: ID!) { poolChanged(poolId: $p) { id cap } }';

describe('subscriptions obey the same limits as queries', () => {
  let t: TestApp;
  let adminKey: string;
  let url: string;
  let poolId: string;
  const sockets: RawSocket[] = [];

  async function open(key = adminKey): Promise<RawSocket> {
    const socket = await RawSocket.open(url, key);
    sockets.push(socket);
    return socket;
  }

  beforeAll(async () => {
    Object.assign(process.env, { SUBSCRIPTIONS_PER_SOCKET: '3', SOCKETS_PER_KEY: '12', GRAPHQL_MAX_ALIASES: '5', GRAPHQL_MAX_DEPTH: '2' });
    t = await TestApp.start();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    url = `ws://127.0.0.1:${(t.server.address() as AddressInfo).port}/graphql`;
    ({ adminKey } = await t.organization('subscriptions'));
    ({ poolId } = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'tool', cost: 1 }] }));
  });

  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await t.close();
  });

  it('refuses a subscription with more aliases than allowed with QUERY_TOO_COMPLEX', async () => {
    const socket = await open();
    const aliases = Array.from({ length: 50 }, (_, i) => `a${i}: cap`).join(' ');
    socket.subscribe('aliases', `subscription($p: ID!) { poolChanged(poolId: $p) { ${aliases} } }`, { p: poolId });
    expect(await socket.errorOf('aliases')).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX' } });
  });

  it('refuses a subscription nested past the depth limit with QUERY_TOO_COMPLEX', async () => {
    const socket = await open();
    socket.subscribe('deep', 'subscription($p: ID!) { poolChanged(poolId: $p) { apps { id } } }', { p: poolId });
    expect(await socket.errorOf('deep')).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX' } });
  });

  it('refuses a subscription nested 5,000 brackets deep, or whose query is not text, and keeps the socket', async () => {
    const socket = await open();
    socket.subscribe('nested', 'subscription {' + 'poolChanged{'.repeat(5000) + '}'.repeat(5001));
    expect(await socket.errorOf('nested')).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX' } });
    socket.send({ type: 'subscribe', id: 'tree', payload: { query: { kind: 'Document', definitions: [] } } });
    expect(await socket.errorOf('tree')).toMatchObject({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    socket.subscribe('fine', WATCH, { p: poolId });
    await t.gql(adminKey, 'mutation($id: ID!) { updatePool(id: $id, input: { cap: 14 }) { cap } }', { id: poolId });
    expect((await socket.next((m) => m.id === 'fine' && m.type === 'next')).payload).toEqual({ data: { poolChanged: { id: poolId, cap: 14 } } });
  });

  it('checks a subscribe message sent right behind connection_init, before the ack', async () => {
    const ws = new WebSocket(url, 'graphql-transport-ws');
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const messages: Message[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Message));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${adminKey}` } }));
    ws.send(JSON.stringify({ type: 'subscribe', id: 'early', payload: { query: 'subscription {' + 'poolChanged{'.repeat(5000) + '}'.repeat(5001) } }));
    while (!messages.some((m) => m.id === 'early')) await new Promise((r) => setTimeout(r, 20));
    ws.close();
    const answer = messages.find((m) => m.id === 'early')!;
    expect(answer.type).toBe('error');
    expect((answer.payload as { extensions?: { code?: string } }[])[0].extensions?.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('refuses a subscription that does not validate against the schema with GRAPHQL_VALIDATION_FAILED', async () => {
    const socket = await open();
    socket.subscribe('bad', 'subscription { poolChanged(poolId: "x") { noSuchField } }');
    expect(await socket.errorOf('bad')).toMatchObject({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
  });

  it('refuses a subscription over the cost limit with QUERY_TOO_COMPLEX', async () => {
    const socket = await open();
    const fragments = Array.from({ length: 20 }, (_, i) => `fragment F${i} on Pool { ...F${i + 1} ...F${i + 1} }`).join(' ');
    socket.subscribe('cost', `subscription($p: ID!) { poolChanged(poolId: $p) { ...F0 } } ${fragments} fragment F20 on Pool { cap }`, { p: poolId });
    expect(await socket.errorOf('cost')).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX' } });
  });

  it('holds at most SUBSCRIPTIONS_PER_SOCKET subscriptions on one socket, and frees a place when one completes', async () => {
    const socket = await open();
    for (const id of ['s1', 's2', 's3']) socket.subscribe(id, WATCH, { p: poolId });
    socket.subscribe('s4', WATCH, { p: poolId });
    const refused = await socket.errorOf('s4');
    expect(refused.extensions?.code).toBe('RATE_LIMITED');
    expect(refused.message).toContain('SUBSCRIPTIONS_PER_SOCKET');
    socket.send({ type: 'complete', id: 's1' });
    await new Promise((r) => setTimeout(r, 100));
    socket.subscribe('s5', WATCH, { p: poolId });
    await t.gql(adminKey, 'mutation($id: ID!) { updatePool(id: $id, input: { cap: 11 }) { cap } }', { id: poolId });
    const event = await socket.next((m) => m.id === 's5' && m.type === 'next');
    expect(event.payload).toEqual({ data: { poolChanged: { id: poolId, cap: 11 } } });
    // Another socket has its own places.
    const other = await open();
    other.subscribe('o1', WATCH, { p: poolId });
    await t.gql(adminKey, 'mutation($id: ID!) { updatePool(id: $id, input: { cap: 12 }) { cap } }', { id: poolId });
    expect((await other.next((m) => m.id === 'o1' && m.type === 'next')).payload).toEqual({ data: { poolChanged: { id: poolId, cap: 12 } } });
  });

  it('does not count subscriptions that were refused against the socket', async () => {
    const socket = await open();
    for (let i = 0; i < 6; i++) {
      socket.subscribe(`missing${i}`, WATCH, { p: '00000000-0000-4000-8000-000000000000' });
      expect((await socket.errorOf(`missing${i}`)).extensions?.code).toBe('NOT_FOUND');
    }
    socket.subscribe('fits', WATCH, { p: poolId });
    await t.gql(adminKey, 'mutation($id: ID!) { updatePool(id: $id, input: { cap: 13 }) { cap } }', { id: poolId });
    expect((await socket.next((m) => m.id === 'fits' && m.type === 'next')).payload).toEqual({ data: { poolChanged: { id: poolId, cap: 13 } } });
  });

  it('refuses a second subscription with an id already running on the socket', async () => {
    const socket = await open();
    socket.subscribe('same', WATCH, { p: poolId });
    socket.subscribe('same', WATCH, { p: poolId });
    expect((await socket.errorOf('same')).extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('closes a socket within seconds of its key being revoked', async () => {
    const viewer = await t.principalWithKey(adminKey, 'VIEWER', { name: 'board' });
    const socket = await open(viewer.key);
    socket.subscribe('w', WATCH, { p: poolId });
    await new Promise((r) => setTimeout(r, 100));
    const revoked = await t.gql(adminKey, 'mutation($id: ID!) { revokeApiKey(id: $id) }', { id: viewer.keyId });
    expect(revoked.errors).toBeUndefined();
    expect(await socket.whenClosed()).toEqual({ code: 4403, reason: 'The API key was revoked or has expired' });
  }, 15_000);

  it('closes a socket within seconds of its key expiring', async () => {
    const principal = await t.gql<{ createPrincipal: { id: string } }>(
      adminKey,
      'mutation { createPrincipal(input: { name: "short", kind: AGENT, orgUnitKind: CHANGE }) { id } }',
    );
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const key = await t.gql<{ createApiKey: { secret: string } }>(
      adminKey,
      'mutation($p: ID!, $at: DateTime) { createApiKey(principalId: $p, role: VIEWER, expiresAt: $at) { secret } }',
      {
        p: principal.data!.createPrincipal.id,
        at: expiresAt,
      },
    );
    const socket = await open(key.data!.createApiKey.secret);
    socket.subscribe('w', WATCH, { p: poolId });
    expect((await socket.whenClosed()).code).toBe(4403);
  }, 15_000);

  it('refuses a key its next WebSocket past SOCKETS_PER_KEY, and takes one again once one closes', async () => {
    const viewer = await t.principalWithKey(adminKey, 'VIEWER', { name: 'many-sockets' });
    const held = await Promise.all(Array.from({ length: 12 }, () => open(viewer.key)));
    await expect(RawSocket.open(url, viewer.key)).rejects.toThrow(/closed/);
    // Other keys are not affected.
    const other = await open();
    expect(other.closed).toBeUndefined();
    held[0].close();
    await held[0].whenClosed();
    const again = await RawSocket.open(url, viewer.key);
    sockets.push(again);
    again.subscribe('w', WATCH, { p: poolId });
    expect(again.closed).toBeUndefined();
  }, 15_000);
});
