import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { TestApp } from './support/app';
import { bulkLedger, exportBackends, StalledReader, stalledGet } from './support/exports';
import { waitFor } from './support/processes';

const ROWS = 100_000;
const WHOLE = '/exports/ledger.csv?from=2026-10-05T00:00:00Z&to=2026-10-06T00:00:00Z';
const SMALL = '/exports/ledger.csv?from=2026-10-05T00:00:00Z&to=2026-10-05T00:00:01Z';

describe('an export whose reader stops reading', () => {
  let t: TestApp;
  let port: number;
  let dataSource: DataSource;
  let org: { organizationId: string; adminKey: string };
  let reader: StalledReader | undefined;

  beforeAll(async () => {
    // One slot, so the stalled export's slot is the only one; a short idle limit for this file.
    Object.assign(process.env, { EXPORT_IDLE_TIMEOUT_SECONDS: '2', EXPORT_SLOTS_PER_ORGANIZATION: '1', METRICS_PORT: '0' });
    t = await TestApp.start();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    dataSource = t.app.get(DataSource);
    org = await t.organization('exports-idle');
    await bulkLedger(dataSource, org.organizationId, ROWS, '2026-10-05T00:00:00Z');
  });

  afterAll(async () => {
    reader?.socket.destroy();
    await t?.close();
  });

  it('is aborted after the idle limit: its transaction rolled back, its connection and slot freed, its socket closed', async () => {
    reader = await stalledGet(port, WHOLE, org.adminKey);
    expect(reader.status).toBe(200);
    // The file is far larger than the socket buffers: the export waits on the reader until aborted.
    await waitFor(async () => (await exportBackends(dataSource)) === 0, 'the stalled export to be rolled back');
    await waitFor(async () => {
      const res = await fetch(`http://127.0.0.1:${port}${SMALL}`, { headers: { authorization: `Bearer ${org.adminKey}` } });
      const text = await res.text();
      return res.status === 200 && text.split('\r\n').length === 21;
    }, 'the slot to be free again');
    // Reading again, the client gets what was already under way and then the end of a cut file.
    const { tail } = await reader.drain();
    expect(tail).not.toContain(`compute:bulk-${ROWS},`);
  });
});
