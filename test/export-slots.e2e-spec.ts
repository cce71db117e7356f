import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { TestApp } from './support/app';
import { bulkLedger, exportBackends, StalledReader, stalledGet } from './support/exports';
import { startApi, waitFor } from './support/processes';

const ROWS = 100_000;
const WHOLE = '/exports/ledger.csv?from=2026-10-05T00:00:00Z&to=2026-10-06T00:00:00Z';
// The first second of the bulk rows: 19 of them (one every 50 ms, the first at 50 ms).
const SMALL = '/exports/ledger.csv?from=2026-10-05T00:00:00Z&to=2026-10-05T00:00:01Z';

async function listen(t: TestApp): Promise<number> {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  return (t.app.getHttpServer().address() as AddressInfo).port;
}

describe('export slots per organization, across API processes', () => {
  let t1: TestApp;
  let t2: TestApp;
  let port1: number;
  let port2: number;
  let dataSource: DataSource;
  let a: { organizationId: string; adminKey: string };
  let b: { organizationId: string; adminKey: string };
  const readers: StalledReader[] = [];

  const get = (port: number, path: string, key: string) => fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${key}` } });
  const stall = async (port: number, key: string) => {
    const reader = await stalledGet(port, WHOLE, key);
    readers.push(reader);
    expect(reader.status).toBe(200);
    return reader;
  };

  beforeAll(async () => {
    Object.assign(process.env, { EXPORT_SLOTS_PER_ORGANIZATION: '2', METRICS_PORT: '0' });
    t1 = await TestApp.start();
    t2 = await TestApp.start();
    [port1, port2] = [await listen(t1), await listen(t2)];
    dataSource = t1.app.get(DataSource);
    a = await t1.organization('exports-slots-a');
    b = await t1.organization('exports-slots-b');
    await bulkLedger(dataSource, a.organizationId, ROWS, '2026-10-05T00:00:00Z');
    await bulkLedger(dataSource, b.organizationId, ROWS, '2026-10-05T00:00:00Z');
  });

  afterEach(async () => {
    for (const reader of readers.splice(0)) reader.socket.destroy();
    await waitFor(async () => (await exportBackends(dataSource)) === 0, 'the exports of the test to end');
  });

  afterAll(async () => {
    await t2?.close();
    await t1?.close();
  });

  it('refuses a third export of one organization with RATE_LIMITED while the other organization exports', async () => {
    await stall(port1, a.adminKey);
    await stall(port1, a.adminKey);
    const refused = await get(port1, WHOLE, a.adminKey);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.json()).toEqual({
      errors: [
        {
          message: 'Your organization already runs 2 exports, the most it may run at once; retry when one has finished',
          extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 5 },
        },
      ],
    });
    await stall(port1, b.adminKey);
    const other = await get(port1, WHOLE, b.adminKey);
    expect(other.status).toBe(200);
    expect((await other.text()).split('\r\n').length).toBe(ROWS + 2);
  });

  it("counts an organization's exports on every API process that shares the Redis", async () => {
    const first = await stall(port1, a.adminKey);
    await stall(port2, a.adminKey);
    for (const port of [port1, port2]) {
      const refused = await get(port, SMALL, a.adminKey);
      expect(refused.status).toBe(429);
      await refused.text();
    }
    first.socket.destroy();
    await waitFor(async () => (await exportBackends(dataSource)) === 1, 'the first export to end');
    const after = await get(port2, SMALL, a.adminKey);
    expect(after.status).toBe(200);
    expect((await after.text()).split('\r\n').length).toBe(21);
  });

  it('frees the slots of an API process that dies, within seconds', async () => {
    const api = await startApi();
    try {
      const port = Number(new URL(api.url).port);
      await stall(port, a.adminKey);
      await stall(port, a.adminKey);
      const refused = await get(port1, SMALL, a.adminKey);
      expect(refused.status).toBe(429);
      await refused.text();
      api.signal('SIGKILL');
      await api.exited;
      // Its claims lapse unless renewed: a claim lives 10 s, so this waits at most that long.
      await waitFor(async () => {
        const res = await get(port1, SMALL, a.adminKey);
        await res.text();
        return res.status === 200;
      }, 'the dead process’s slots to lapse');
    } finally {
      await api.stop();
    }
  });
});
