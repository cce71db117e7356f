import request from 'supertest';
import { PrincipalsService } from '../src/principals/principals.service';
import { codeOf, TestApp } from './support/app';
import { CHECKIN, CHECKOUT, createPool, LeaseShape } from './support/catalog';
import { scrapeMetrics } from './support/metrics';
import { ApiProcess, startApi, startPrivateRedis, startTcpProxy, waitFor } from './support/processes';

describe('request hardening', () => {
  let t: TestApp;
  let adminKey: string;

  beforeAll(async () => {
    // Low limits for this file only; the configuration is read when the app boots.
    Object.assign(process.env, {
      GRAPHQL_MAX_DEPTH: '3',
      GRAPHQL_MAX_COST: '200',
      GRAPHQL_MAX_ALIASES: '5',
      GRAPHQL_MAX_ROOT_FIELDS: '3',
      BODY_LIMIT_BYTES: '4096',
      GRAPHQL_INTROSPECTION: 'false',
    });
    t = await TestApp.start();
    ({ adminKey } = await t.organization('hardening'));
  });

  afterAll(async () => {
    await t.close();
  });

  it('refuses an operation past the depth limit with QUERY_TOO_COMPLEX and HTTP 400', async () => {
    const res = await t.gql(adminKey, '{ apiKeys { principal { organization { id } } } }');
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
  });

  it('counts depth through fragments', async () => {
    const res = await t.gql(adminKey, 'fragment P on Principal { organization { id } } { apiKeys { principal { ...P } } }');
    expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
  });

  it('accepts an operation at the depth limit', async () => {
    const res = await t.gql(adminKey, '{ apiKeys { principal { id } } }');
    expect(res.errors).toBeUndefined();
  });

  it('refuses an operation past the cost limit with QUERY_TOO_COMPLEX', async () => {
    const res = await t.gql(
      adminKey,
      'query($from: DateTime!, $to: DateTime!) { auditLog(from: $from, to: $to, first: 100) { id action actor { id name } } }',
      {
        from: '2020-01-01T00:00:00Z',
        to: '2030-01-01T00:00:00Z',
      },
    );
    expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
    expect(res.errors?.[0].message).toContain('cost');
  });

  it('refuses too many aliases with QUERY_TOO_COMPLEX', async () => {
    const res = await t.gql(adminKey, '{ me { a: id b: id c: id d: id e: id f: id } }');
    expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
  });

  it('refuses too many root fields with QUERY_TOO_COMPLEX', async () => {
    const res = await t.gql(adminKey, '{ me { id } principals { id } apiKeys { id } again: me { id } }');
    expect(codeOf(res)).toBe('QUERY_TOO_COMPLEX');
  });

  it('refuses a batched (array) request with BAD_REQUEST and HTTP 400', async () => {
    const res = await request(t.server)
      .post('/graphql')
      .set('authorization', `Bearer ${adminKey}`)
      .send([{ query: '{ me { id } }' }, { query: '{ me { id } }' }]);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('refuses an oversized body with HTTP 413 and BAD_REQUEST', async () => {
    const res = await request(t.server)
      .post('/graphql')
      .set('authorization', `Bearer ${adminKey}`)
      .send({ query: `{ me { id } } # ${'x'.repeat(5000)}` });
    expect(res.status).toBe(413);
    expect(res.body.errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('refuses malformed JSON with BAD_REQUEST and HTTP 400', async () => {
    const res = await request(t.server).post('/graphql').set('authorization', `Bearer ${adminKey}`).set('content-type', 'application/json').send('{"query": ');
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('answers a document that does not validate with GRAPHQL_VALIDATION_FAILED', async () => {
    const res = await t.gql(adminKey, '{ me { nope } }');
    expect(res.status).toBe(400);
    expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('answers a bad variable with BAD_USER_INPUT naming its path', async () => {
    const res = await t.gql(adminKey, 'mutation($input: CreatePrincipalInput!) { createPrincipal(input: $input) { id } }', {
      input: { name: 'x', kind: 'ROBOT', orgUnitKind: 'CHANGE' },
    });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0].extensions.field).toBe('input.kind');
  });

  it('answers an empty name with BAD_USER_INPUT on input.name', async () => {
    const res = await t.gql(adminKey, 'mutation { createPrincipal(input: { name: "   ", kind: USER, orgUnitKind: CHANGE }) { id } }');
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0].extensions.field).toBe('input.name');
  });

  it('refuses introspection when it is switched off', async () => {
    const res = await t.gql(adminKey, '{ __schema { types { name } } }');
    expect(codeOf(res)).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('answers an unexpected fault with INTERNAL_SERVER_ERROR and no internals', async () => {
    const spy = jest.spyOn(t.app.get(PrincipalsService), 'list').mockRejectedValueOnce(new Error('password=hunter2 at /srv/secret.ts:12'));
    const res = await t.gql(adminKey, '{ principals { id } }');
    spy.mockRestore();
    expect(codeOf(res)).toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(res)).not.toMatch(/hunter2|secret\.ts|stack/);
    expect(res.status).toBeLessThan(500);
  });

  it('exposes the request histogram on the metrics port', async () => {
    await t.gql(adminKey, '{ me { id } }');
    const scrape = await scrapeMetrics(t);
    expect(scrape).toContain('tokenpool_http_request_duration_seconds_bucket{');
    expect(scrape).toMatch(/tokenpool_graphql_operation_duration_seconds_count\{operation_type="query",operation_name="me",outcome="ok"\} [1-9]/);
  });

  it('echoes a request id', async () => {
    const res = await request(t.server).get('/health/live').set('x-request-id', 'req-abc-123');
    expect(res.headers['x-request-id']).toBe('req-abc-123');
  });
});

describe('rate limit across API processes', () => {
  let t: TestApp;
  let a: ApiProcess;
  let b: ApiProcess;

  beforeAll(async () => {
    t = await TestApp.start();
    const env = { RATE_LIMIT_PER_KEY: '10', RATE_LIMIT_WINDOW_SECONDS: '60' };
    [a, b] = await Promise.all([startApi(env), startApi(env)]);
  });

  afterAll(async () => {
    await Promise.all([a.stop(), b.stop()]);
    await t.close();
  });

  it('grants one key its budget in total across two processes and then answers RATE_LIMITED', async () => {
    const { adminKey } = await t.organization('ratelimit');
    const answers = [];
    for (let i = 0; i < 8; i++) {
      answers.push(await a.gql(adminKey, '{ me { id } }'));
      answers.push(await b.gql(adminKey, '{ me { id } }'));
    }
    const granted = answers.filter((r) => r.body.data?.me);
    const limited = answers.filter((r) => r.body.errors?.[0]?.extensions.code === 'RATE_LIMITED');
    expect(granted).toHaveLength(10);
    expect(limited).toHaveLength(6);
    expect(limited[0].status).toBe(429);
    expect(limited[0].body.errors?.[0]?.extensions.retryAfterSeconds).toBeGreaterThan(0);
  });
});

/** An API process that reaches the run's PostgreSQL through a forwarder the test can cut and restore. */
async function apiBehindPostgresProxy(env: Record<string, string>) {
  const database = new URL(process.env.DATABASE_URL!);
  const proxy = await startTcpProxy(Number(database.port || 5432));
  database.host = `127.0.0.1:${proxy.port}`;
  const api = await startApi({ DATABASE_URL: database.toString(), ...env });
  return { api, proxy };
}

describe('process lifecycle', () => {
  it('drains an in-flight request on SIGTERM and exits 0', async () => {
    const t = await TestApp.start();
    const { adminKey } = await t.organization('drain');
    await t.close();
    const api = await startApi({}, { delayRequests: true });
    let answeredAt = 0;
    const inFlight = api.gql(adminKey, '{ me { name } }', undefined, { 'x-test-delay-ms': '1500' }).then((res) => ((answeredAt = Date.now()), res));
    await new Promise((r) => setTimeout(r, 300));
    const signalledAt = Date.now();
    api.signal('SIGTERM');
    const res = await inFlight;
    // The request was still held when the signal came: it was drained, not answered before.
    expect(answeredAt).toBeGreaterThan(signalledAt);
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ me: { name: 'admin' } });
    const code = await api.exited;
    expect({ code, output: code === 0 ? '' : api.output }).toEqual({ code: 0, output: '' });
  });

  it('answers 503 UNAVAILABLE with Retry-After, never a 500, while PostgreSQL is unreachable, and recovers', async () => {
    const t = await TestApp.start();
    const { adminKey } = await t.organization('postgres-down');
    await t.close();
    // Every request looks its key up in PostgreSQL (no cache, no key served stale), so the outage shows at once.
    const { api, proxy } = await apiBehindPostgresProxy({ API_KEY_CACHE_SECONDS: '0', AUTH_STALE_SECONDS: '0' });
    const me = () =>
      fetch(`${api.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ query: '{ me { name } }' }),
      });
    try {
      expect((await me()).status).toBe(200);
      await proxy.cut();
      for (let i = 0; i < 3; i++) {
        const refused = await me();
        expect(refused.status).toBe(503);
        expect(refused.headers.get('retry-after')).toBe('2');
        expect(await refused.json()).toMatchObject({ errors: [{ extensions: { code: 'UNAVAILABLE', retryAfterSeconds: 2 } }] });
      }
      expect((await fetch(`${api.url}/health/ready`)).status).toBe(503);
      expect((await fetch(`${api.url}/health/live`)).status).toBe(200);
      await proxy.restore();
      await waitFor(async () => (await me()).status === 200, 'the API to reach PostgreSQL again', 10_000).catch(() => undefined);
      const res = await me();
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ data: { me: { name: 'admin' } } });
    } finally {
      await api.stop();
      await proxy.cut();
    }
  });

  it('releases a grant it could not record while PostgreSQL is unreachable, and answers UNAVAILABLE', async () => {
    const t = await TestApp.start();
    const { adminKey } = await t.organization('postgres-down-lease');
    const pool = await createPool(t, adminKey, { cap: 5, apps: [{ key: 'cad', cost: 5 }] });
    await t.close();
    // The key lookup stays cached for 2 s, so the check-out below gets past authentication.
    const { api, proxy } = await apiBehindPostgresProxy({ API_KEY_CACHE_SECONDS: '2' });
    const input = { poolId: pool.poolId, app: pool.keyOf('cad') };
    const inUse = async () =>
      (await api.gql(adminKey, 'query($id: ID!) { pool(id: $id) { inUse } }', { id: pool.poolId })).body.data?.pool as { inUse: number } | undefined;
    try {
      // A first check-out and check-in warm the pool and app caches.
      const first = await api.gql(adminKey, CHECKOUT, { input });
      const firstId = (first.body.data?.checkout as LeaseShape).id;
      expect((await api.gql(adminKey, CHECKIN, { id: firstId })).body.data?.checkin).toMatchObject({ state: 'RELEASED' });
      await proxy.cut();
      const refused = await api.gql(adminKey, CHECKOUT, { input });
      expect(refused.status).toBeLessThan(500);
      expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAVAILABLE', retryAfterSeconds: 1 });
      await proxy.restore();
      // Redis gave the 5 credits before PostgreSQL refused the record: they were handed back
      // at once, not at the lease's expiry in 300 s.
      await waitFor(async () => (await inUse())?.inUse === 0, 'the credits to come back', 10_000).catch(() => undefined);
      expect(await inUse()).toEqual({ inUse: 0 });
      expect((await api.gql(adminKey, CHECKOUT, { input })).body.data?.checkout).toMatchObject({ credits: 5, state: 'ACTIVE' });
    } finally {
      await api.stop();
      await proxy.cut();
    }
  });

  it('reports not ready when Redis is unreachable, answers lease operations UNAVAILABLE, and stays live', async () => {
    const t = await TestApp.start();
    const { adminKey } = await t.organization('redis-down');
    await t.close();
    const redis = await startPrivateRedis();
    const api = await startApi({ REDIS_URL: redis.url });
    try {
      expect((await fetch(`${api.url}/health/ready`)).status).toBe(200);
      const pool = await api.gql(adminKey, 'mutation { createPool(input: { name: "p", cap: 5 }) { id } }');
      const poolId = (pool.body.data?.createPool as { id: string }).id;
      await api.gql(adminKey, 'mutation($p: ID!) { createApp(input: { poolId: $p, key: "down-tool", name: "t", cost: 1 }) { id } }', { p: poolId });
      await redis.server.stop();
      const res = await fetch(`${api.url}/health/ready`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ checks: { redis: 'down', postgres: 'ok' } });
      expect((await fetch(`${api.url}/health/live`)).status).toBe(200);
      const checkout = await api.gql(adminKey, 'mutation($p: ID!) { checkout(input: { poolId: $p, app: "down-tool" }) { id } }', { p: poolId });
      expect(checkout.status).toBeLessThan(500);
      expect(checkout.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAVAILABLE' });
      expect(checkout.body.errors?.[0]?.extensions.retryAfterSeconds).toBeGreaterThan(0);
    } finally {
      await api.stop();
    }
  });
});
