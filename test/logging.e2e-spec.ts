import { randomUUID } from 'node:crypto';
import { TestApp } from './support/app';
import { ApiProcess, startApi } from './support/processes';

interface LogLine {
  msg?: string;
  instance?: string;
  responseTime?: number;
  req?: Record<string, unknown>;
  res?: { statusCode?: number };
}

/** The request log of a real API process: what a request line says, and that no credential reaches it. */
describe('request log', () => {
  let t: TestApp;
  let api: ApiProcess;
  let org: { organizationId: string; adminKey: string };

  beforeAll(async () => {
    t = await TestApp.start();
    org = await t.organization('logging');
    api = await startApi({ LOG_LEVEL: 'info' });
  });

  afterAll(async () => {
    await api?.stop();
    await t?.close();
  });

  /** The JSON lines of the API's output that carry `requestId`, once the completion line is there. */
  async function linesOf(requestId: string): Promise<LogLine[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const lines = api.output
        .split('\n')
        .filter((line) => line.startsWith('{') && line.includes(requestId))
        .map((line) => JSON.parse(line) as LogLine);
      if (lines.some((line) => line.msg === 'request completed') || Date.now() > deadline) return lines;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('logs each request once it completes with its id, method, url, status and time, and no headers', async () => {
    const requestId = `log-${randomUUID()}`;
    const res = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${org.adminKey}`,
        'x-api-key': org.adminKey,
        cookie: 'session=s3cr3t',
        'x-request-id': requestId,
      },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(requestId);

    const lines = await linesOf(requestId);
    const completed = lines.find((line) => line.msg === 'request completed');
    expect(completed).toBeDefined();
    expect(completed!.req).toEqual({ id: requestId, method: 'POST', url: '/graphql', remoteAddress: '127.0.0.1' });
    expect(completed!.res?.statusCode).toBe(200);
    expect(typeof completed!.responseTime).toBe('number');
    expect(completed!.instance).toEqual(expect.any(String));
    // The key, the cookie and the bearer scheme appear on no line of the whole output.
    expect(api.output).not.toContain(org.adminKey);
    expect(api.output).not.toContain('s3cr3t');
    expect(api.output).not.toContain('Bearer');
  });
});
