import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { TestApp } from './support/app';
import { metricsUrl, scrapeMetrics } from './support/metrics';
import { freePort, startApi } from './support/processes';

/** Distinct operation_name values of the GraphQL histogram in a Prometheus scrape. */
function operationNames(scrape: string): Set<string> {
  const names = new Set<string>();
  for (const match of scrape.matchAll(/^tokenpool_graphql_operation_duration_seconds_count\{[^}]*operation_name="([^"]*)"/gm)) names.add(match[1]);
  return names;
}

describe('metrics of the in-process API', () => {
  let t: TestApp;
  let adminKey: string;

  beforeAll(async () => {
    t = await TestApp.start();
    ({ adminKey } = await t.organization('metrics'));
  });

  afterAll(async () => {
    await t.close();
  });

  it('answers 404 for /metrics on the public port', async () => {
    const res = await request(t.server).get('/metrics');
    expect(res.status).toBe(404);
    expect(res.text).not.toContain('tokenpool_');
  });

  it('serves Prometheus text on the metrics port and nothing else there', async () => {
    await t.gql(adminKey, '{ me { id } }');
    const res = await fetch(metricsUrl(t));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toMatch(/tokenpool_graphql_operation_duration_seconds_count\{operation_type="query",operation_name="me",outcome="ok"\} [1-9]/);
    expect((await fetch(metricsUrl(t).replace(/\/metrics$/, '/graphql'))).status).toBe(404);
  });

  it('counts an overlong operation name as other', async () => {
    const name = `op_${'x'.repeat(5000)}`;
    expect((await t.gql(adminKey, `query ${name} { me { id } }`)).data).toEqual({ me: { id: expect.any(String) } });
    const names = operationNames(await scrapeMetrics(t));
    expect(names.has(name)).toBe(false);
    expect(names.has('other')).toBe(true);
  });

  it('keeps at most 200 distinct operation names and counts the rest as other', async () => {
    const sent = Array.from({ length: 250 }, () => `op_${randomUUID().replace(/-/g, '')}`);
    for (const name of sent) {
      const res = await t.gql(adminKey, `query ${name} { me { id } }`);
      expect(res.data).toEqual({ me: { id: expect.any(String) } });
    }
    const names = operationNames(await scrapeMetrics(t));
    expect(names.has('other')).toBe(true);
    expect(names.size - 1).toBe(200);
    expect(sent.filter((name) => names.has(name)).length).toBeLessThanOrEqual(200);
  });
});

describe('metrics listener lifecycle', () => {
  it('closes the metrics port with the app', async () => {
    const t = await TestApp.start();
    const url = metricsUrl(t);
    expect((await fetch(url)).status).toBe(200);
    await t.close();
    await expect(fetch(url)).rejects.toThrow();
  });
});

describe('metrics of an API process', () => {
  it('serves /metrics on METRICS_PORT only, and logs where', async () => {
    const metricsPort = await freePort();
    const api = await startApi({ METRICS_PORT: String(metricsPort), LOG_LEVEL: 'info' });
    try {
      const onMetricsPort = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      expect(onMetricsPort.status).toBe(200);
      expect(await onMetricsPort.text()).toContain('tokenpool_http_request_duration_seconds');
      expect((await fetch(`${api.url}/metrics`)).status).toBe(404);
      expect(api.output).toContain(`http://127.0.0.1:${metricsPort}/metrics`);
    } finally {
      await api.stop();
    }
  });
});
