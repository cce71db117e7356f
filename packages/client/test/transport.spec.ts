import { TokenpoolError } from '../src/errors';
import { type FetchLike, parseAnswer, parseRetryAfter, Transport } from '../src/transport';

const answer = (status: number, headers: Record<string, string> = {}) => ({ status, headers: new Headers(headers) });
const ENDPOINT = 'http://tp.test/graphql';

function caught(fn: () => unknown): TokenpoolError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TokenpoolError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('parseAnswer', () => {
  it('returns data', () => {
    expect(parseAnswer(answer(200), '{"data":{"pools":[]}}', ENDPOINT)).toEqual({ pools: [] });
  });

  it('maps the first GraphQL error to a TokenpoolError with its extensions as fields', () => {
    const body = {
      data: null,
      errors: [{ message: 'Not enough credits', extensions: { code: 'POOL_EXHAUSTED', available: 2, requested: 5, retryAfterSeconds: 40 } }],
    };
    const err = caught(() => parseAnswer(answer(200), JSON.stringify(body), ENDPOINT));
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({
      name: 'TokenpoolError',
      code: 'POOL_EXHAUSTED',
      message: 'Not enough credits',
      available: 2,
      requested: 5,
      retryAfterSeconds: 40,
      status: 200,
    });
    expect(err.extensions).toMatchObject({ code: 'POOL_EXHAUSTED', available: 2 });
  });

  it('reads LEASE_NOT_ACTIVE’s state and BAD_USER_INPUT’s field', () => {
    const ended = caught(() =>
      parseAnswer(answer(200), JSON.stringify({ errors: [{ message: 'ended', extensions: { code: 'LEASE_NOT_ACTIVE', state: 'REVOKED' } }] }), ENDPOINT),
    );
    expect(ended).toMatchObject({ code: 'LEASE_NOT_ACTIVE', state: 'REVOKED' });
    const bad = caught(() =>
      parseAnswer(answer(200), JSON.stringify({ errors: [{ message: 'bad', extensions: { code: 'BAD_USER_INPUT', field: 'input.cost' } }] }), ENDPOINT),
    );
    expect(bad).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.cost' });
  });

  it('answers RATE_LIMITED for a 429, with Retry-After when the body has no retryAfterSeconds', () => {
    expect(caught(() => parseAnswer(answer(429, { 'retry-after': '7' }), 'Too Many Requests', ENDPOINT))).toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterSeconds: 7,
    });
    const body = { errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED' } }] };
    expect(caught(() => parseAnswer(answer(429, { 'retry-after': '3' }), JSON.stringify(body), ENDPOINT))).toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterSeconds: 3,
    });
    const withBody = { errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 9 } }] };
    expect(caught(() => parseAnswer(answer(429, { 'retry-after': '3' }), JSON.stringify(withBody), ENDPOINT))).toMatchObject({ retryAfterSeconds: 9 });
  });

  it('answers UNAVAILABLE for a 5xx that is not GraphQL, and a contract code for other non-GraphQL answers', () => {
    expect(caught(() => parseAnswer(answer(502), '<html>Bad Gateway</html>', ENDPOINT))).toMatchObject({ code: 'UNAVAILABLE', status: 502 });
    expect(caught(() => parseAnswer(answer(401), 'nope', ENDPOINT))).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(caught(() => parseAnswer(answer(404), 'Not Found', ENDPOINT))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('Transport', () => {
  const SECRET = 'tp_secret_key_that_must_not_leak';

  it('sends the key as a bearer token and never puts it in an error', async () => {
    const seen: RequestInit[] = [];
    const transport = new Transport({
      url: 'http://127.0.0.1:1/',
      apiKey: SECRET,
      fetch: async (_url, init) => {
        seen.push(init);
        throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
      },
    });
    expect(transport.endpoint).toBe('http://127.0.0.1:1/graphql');
    const err = await transport.request('{ pools { id } }').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
    expect((err as TokenpoolError).cause).toBeInstanceOf(TypeError);
    expect((err as TokenpoolError).message).toContain('ECONNREFUSED');
    expect(JSON.stringify(err) + String(err) + (err as Error).stack).not.toContain(SECRET);
    expect(JSON.stringify(transport)).not.toContain(SECRET);
    expect((seen[0].headers as Record<string, string>).authorization).toBe(`Bearer ${SECRET}`);
    expect(JSON.parse(String(seen[0].body))).toEqual({ query: '{ pools { id } }', variables: {} });
  });

  it('turns a request that outlives its timeout into UNAVAILABLE, and a caller’s abort into its own reason', async () => {
    const hang: FetchLike = (_url, init) => new Promise((_, reject) => init.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
    const transport = new Transport({ url: 'http://tp.test', fetch: hang });
    await expect(transport.request('{ pools { id } }', {}, { timeoutMs: 20 })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    const controller = new AbortController();
    const reason = new Error('cancelled');
    setTimeout(() => controller.abort(reason), 10);
    await expect(transport.request('{ pools { id } }', {}, { signal: controller.signal })).rejects.toBe(reason);
  });
});
