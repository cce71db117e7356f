import { TokenpoolClient, TokenpoolError } from '@tokenpool/client';
import { ApiProcess, startApi } from '../../../test/support/processes';
import { countingClient, newOrganization } from './fixtures';

/** RATE_LIMITED (HTTP 429) from a real API: its retryAfterSeconds read, and retried until the deadline. */
describe('SDK and the rate limit', () => {
  let api: ApiProcess;
  let adminKey: string;

  beforeAll(async () => {
    // 4 requests per key per 2 s window.
    [api, adminKey] = await Promise.all([startApi({ RATE_LIMIT_PER_KEY: '4', RATE_LIMIT_WINDOW_SECONDS: '2' }), newOrganization()]);
  });

  afterAll(async () => {
    await api?.stop();
  });

  it('throws RATE_LIMITED with retryAfterSeconds when there is no time left to retry', async () => {
    const tp = new TokenpoolClient({ url: api.url, apiKey: adminKey, retryDeadlineMs: 0 });
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => tp.pools()));
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as TokenpoolError);
    expect(refused.length).toBeGreaterThanOrEqual(4);
    for (const err of refused) {
      expect(err).toBeInstanceOf(TokenpoolError);
      expect(err).toMatchObject({ code: 'RATE_LIMITED', status: 429 });
      expect(err.retryAfterSeconds).toBeGreaterThan(0);
    }
    await tp.close();
  });

  it('retries RATE_LIMITED after retryAfterSeconds until every call succeeds', async () => {
    await new Promise((r) => setTimeout(r, 2_100)); // a fresh window
    const { client, sent } = countingClient({ url: api.url, apiKey: adminKey }, 'query Pools');
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 8 }, () => client.pools()));
    expect(results.every((pools) => Array.isArray(pools))).toBe(true);
    expect(sent.length).toBeGreaterThan(8); // some were refused and sent again
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000); // not before the window let them in
    await client.close();
  });
});
