import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { codeOf, TestApp } from './support/app';

/** `query { ...F0 } fragment F0 on Query { ...F1 ...F1 } ... fragment Fn on Query { leaf }`: 2^n paths. */
function fanOut(levels: number, leaf: string): string {
  const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
  return `query { ...F0 } ${fragments.join(' ')} fragment F${levels} on Query { ${leaf} }`;
}

/** Sends raw bytes over TCP and returns what the server answered (status line, headers, body). */
function rawHttp(app: TestApp, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const { port } = app.server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1', () => socket.end(text));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
  });
}

describe('GraphQL limits against hostile documents', () => {
  let t: TestApp;
  let adminKey: string;

  beforeAll(async () => {
    t = await TestApp.start();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    ({ adminKey } = await t.organization('limits'));
  });

  afterAll(async () => {
    await t.close();
  });

  // A walk per path took 0.84 s at 18 levels and doubled with each one: 30 levels held the
  // process for about an hour and ended in INTERNAL_SERVER_ERROR. The jest timeout is the
  // hang guard; the analysis itself is bounded by visit counts in the unit specs.
  it('refuses a 30-level fragment fan-out with QUERY_TOO_COMPLEX and stays responsive', async () => {
    const res = await t.gql(adminKey, fanOut(30, 'me { id }'));
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
    expect(res.errors?.[0].message).toMatch(/estimated cost is \d+; the limit is 5000/);
    const me = await t.gql<{ me: { name: string } }>(adminKey, '{ me { name } }');
    expect(me.data?.me.name).toBe('admin');
  }, 15_000);

  it('refuses a deep selection reached through a fan-out by depth, before any cost is computed', async () => {
    const res = await t.gql(adminKey, fanOut(40, 'apiKeys { principal { organization { id } } }'));
    expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
  }, 15_000);

  it('answers a 40-level fan-out of __typename, which costs nothing and executes once per fragment', async () => {
    const res = await t.gql<{ __typename: string }>(adminKey, fanOut(40, '__typename'));
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ __typename: 'Query' });
  }, 15_000);

  it('runs a small fan-out that stays within the limits', async () => {
    const res = await t.gql<{ me: { name: string } }>(adminKey, fanOut(8, 'me { name }'));
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ me: { name: 'admin' } });
  });

  it('refuses a subscription sent over HTTP with BAD_REQUEST instead of running its resolve function', async () => {
    const res = await t.gql(adminKey, 'subscription { poolChanged(poolId: "00000000-0000-4000-8000-000000000000") { id } }');
    expect(codeOf(res)).toBe('BAD_REQUEST');
    expect(res.errors?.[0].message).toContain('WebSocket');
  });

  it('refuses a subscription picked by operationName from a document that also holds a query', async () => {
    const res = await request(t.server)
      .post('/graphql')
      .set('authorization', `Bearer ${adminKey}`)
      .send({ query: 'query Q { me { id } } subscription S { poolChanged(poolId: "00000000-0000-4000-8000-000000000000") { id } }', operationName: 'S' });
    expect(res.body.errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  describe('the source is checked before the parser sees it', () => {
    it('refuses a document nested 5,000 brackets deep with QUERY_TOO_COMPLEX, not a stack overflow', async () => {
      const res = await t.gql(adminKey, '{' + 'me{'.repeat(5000) + 'id' + '}'.repeat(5000) + '}');
      expect(res.status).toBe(400);
      expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
      expect(res.errors?.[0].message).toContain('nests brackets');
    });

    it('refuses a JSON syntax tree sent as the query, which would otherwise be executed as is', async () => {
      const ast = JSON.stringify({ kind: 'Document', definitions: [{ kind: 'OperationDefinition', operation: 'query' }] });
      const res = await t.gql(adminKey, ast);
      expect(res.status).toBe(400);
      expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
    });

    it('refuses a document of more than GRAPHQL_MAX_TOKENS tokens with QUERY_TOO_COMPLEX', async () => {
      const res = await t.gql(adminKey, `{ me { ${'id '.repeat(12_000)} } }`);
      expect(res.status).toBe(400);
      expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
      expect(res.errors?.[0].message).toContain('GRAPHQL_MAX_TOKENS');
    });

    it('answers a syntax error with GRAPHQL_VALIDATION_FAILED and its location', async () => {
      const res = await t.gql(adminKey, '{ me { id ');
      expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(res.errors?.[0]).toMatchObject({ locations: [{ line: 1, column: 11 }] });
    });
  });

  describe('authentication comes before any GraphQL work', () => {
    it('refuses a POST with an Upgrade header and no key with UNAUTHENTICATED', async () => {
      const res = await request(t.server).post('/graphql').set('upgrade', 'x').send({ query: '{ __typename }' });
      expect(res.status).toBe(401);
      expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect(res.body.data).toBeUndefined();
    });

    it('refuses a POST that asks for a WebSocket upgrade, with no key, without running it', async () => {
      const body = JSON.stringify({ query: '{ __typename }' });
      const answer = await rawHttp(
        t,
        `POST /graphql HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      expect(answer).not.toContain('"__typename"');
      expect(answer).toMatch(/^HTTP\/1\.1 400/);
      expect(answer).toContain('"code":"BAD_REQUEST"');
    });

    it('refuses a GET query with no key with UNAUTHENTICATED', async () => {
      const res = await request(t.server).get('/graphql').query({ query: '{ __typename }' });
      expect(res.status).toBe(401);
      expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    });

    it('refuses a GET with an Upgrade header that is not a WebSocket handshake', async () => {
      const res = await request(t.server).get('/graphql').set('upgrade', 'websocket').query({ query: '{ __typename }' });
      expect(res.status).toBe(401);
      expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    });

    it('does not analyse a fan-out sent without a key', async () => {
      const res = await request(t.server)
        .post('/graphql')
        .set('upgrade', 'x')
        .send({ query: fanOut(40, '__typename') });
      expect(res.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    });
  });
});
