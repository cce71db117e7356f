import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { LedgerWriter } from '../src/ledger/ledger-writer';
import { LEDGER_COLUMNS } from '../src/exports/export-queries';
import { FOCUS_COLUMNS } from '../src/exports/focus-row';
import { TestApp } from './support/app';
import { createPool } from './support/catalog';
import { ApiProcess, startApi } from './support/processes';

const UPSERT = 'mutation($input: WorkUnitInput!) { upsertWorkUnit(input: $input) { id } }';
const RECORD = 'mutation($events: [ComputeUsageInput!]!) { recordComputeUsage(events: $events) { accepted } }';
const PRICE = 'mutation($input: ModelPriceInput!) { setModelPrice(input: $input) }';
const WINDOW = 'from=2026-11-02T00:00:00Z&to=2026-11-04T00:00:00Z';

/** A small RFC 4180 reader for the test's own files (quoted fields may hold commas, quotes, newlines). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '"' && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (quoted && c === '"') {
      quoted = false;
    } else if (quoted) {
      field += c;
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else {
      field += c;
    }
  }
  return rows;
}

function records(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

function rssKb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.replace(/\D+/g, ''));
}

describe('CSV exports of the ledger', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let org: { organizationId: string; adminKey: string };
  let viewer: { key: string };
  let client: { key: string; principalId: string };
  let workUnitId: string;
  let unitRef: string;
  let appId: string;
  let poolId: string;

  const get = (path: string, key: string | null) => {
    const req = request(t.server)
      .get(path)
      .buffer(true)
      .parse((res, done) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => done(null, body));
      });
    return key ? req.set('authorization', `Bearer ${key}`) : req;
  };

  beforeAll(async () => {
    t = await TestApp.start();
    dataSource = t.app.get(DataSource);
    org = await t.organization('exports');
    viewer = await t.principalWithKey(org.adminKey, 'VIEWER');
    client = await t.principalWithKey(org.adminKey, 'CLIENT', { name: 'agent, "quoted"', kind: 'AGENT', orgUnitKind: 'CHANGE' });
    unitRef = `claim,"7" ${randomUUID().slice(0, 8)}`;
    const unit = await t.gql<{ upsertWorkUnit: { id: string } }>(client.key, UPSERT, {
      input: { externalRef: unitRef, team: 'claims', process: 'claims-handling', orgUnitKind: 'GOING_CONCERN' },
    });
    workUnitId = unit.data!.upsertWorkUnit.id;
    await t.gql(client.key, 'mutation($input: OutcomeInput!) { recordOutcome(input: $input) { id } }', { input: { workUnitId, outcome: 'ACCEPTED' } });
    const model = `gpt-${randomUUID().slice(0, 8)}`;
    const ev = (occurredAt: string, extra: Record<string, unknown>) => ({ eventId: randomUUID(), workUnitId, provider: 'openai', model, occurredAt, ...extra });
    await t.gql(client.key, RECORD, {
      events: [
        ev('2026-11-02T10:00:00Z', { inputTokens: 1000, outputTokens: 200, cost: 0.25 }),
        ev('2026-11-02T15:00:00Z', { inputTokens: 2000, outputTokens: 400, cost: 0.5 }),
        ev('2026-11-02T18:00:00Z', { inputTokens: 1_000_000, outputTokens: 0 }),
        ev('2026-11-03T01:00:00Z', { inputTokens: 10, outputTokens: 5, cost: 0.01 }),
      ],
    });
    // Prices the unpriced event with a CORRECTION row: 1,000,000 input tokens at 2 per million.
    await t.gql(org.adminKey, PRICE, { input: { provider: 'openai', model, inputPerMillion: 2, outputPerMillion: 8, effectiveFrom: '2026-11-01T00:00:00Z' } });
    const pool = await createPool(t, org.adminKey, { cap: 100, apps: [{ key: 'cad', cost: 21 }] });
    poolId = pool.poolId;
    appId = pool.apps.cad;
    await dataSource.transaction((m) =>
      t.app.get(LedgerWriter).appendLicense(m, {
        organizationId: org.organizationId,
        drawId: randomUUID(),
        leaseId: randomUUID(),
        poolId,
        appId,
        principalId: client.principalId,
        workUnitId,
        startedAt: new Date('2026-11-02T08:00:00Z'),
        endedAt: new Date('2026-11-02T10:00:00Z'),
        creditSeconds: 21 * 7200,
        idleCreditSeconds: 21 * 1800,
        creditHourPrice: 1.5,
      }),
    );
    const other = await t.organization('exports-other');
    await t.gql(other.adminKey, RECORD, {
      events: [{ eventId: randomUUID(), provider: 'openai', model, inputTokens: 7, outputTokens: 7, cost: 9, occurredAt: '2026-11-02T12:00:00Z' }],
    });
  });

  afterAll(async () => {
    await t.close();
  });

  it('streams ledger.csv with its header and one row per entry, values as recorded', async () => {
    const res = await get(`/exports/ledger.csv?${WINDOW}`, viewer.key);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename="ledger-2026-11-02-2026-11-04.csv"');
    const text = res.body as string;
    expect(text.slice(0, text.indexOf('\r\n'))).toBe(LEDGER_COLUMNS.join(','));
    expect(LEDGER_COLUMNS.join(',')).toBe(
      'id,event_key,occurred_at,recorded_at,started_at,kind,meter,work_unit_id,work_unit_external_ref,principal_id,principal_name,pool_id,pool_name,app_id,app_key,app_name,lease_id,draw_id,provider,model,credit_seconds,idle_credit_seconds,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,credit_hour_price,input_price_per_million,cached_input_price_per_million,output_price_per_million,model_price_id,cost,currency,cost_source,corrects_entry_id',
    );
    const rows = records(text);
    expect(rows.map((r) => [r.occurred_at, r.kind, r.cost])).toEqual([
      ['2026-11-02T10:00:00.000000Z', 'COMPUTE', '0.25'],
      ['2026-11-02T10:00:00.000000Z', 'LICENSE', '63'],
      ['2026-11-02T15:00:00.000000Z', 'COMPUTE', '0.5'],
      ['2026-11-02T18:00:00.000000Z', 'COMPUTE', ''],
      ['2026-11-02T18:00:00.000000Z', 'CORRECTION', '2'],
      ['2026-11-03T01:00:00.000000Z', 'COMPUTE', '0.01'],
    ]);
    const license = rows[1];
    expect(license).toMatchObject({
      work_unit_id: workUnitId,
      work_unit_external_ref: unitRef,
      principal_name: 'agent, "quoted"',
      pool_id: poolId,
      app_id: appId,
      app_name: 'cad',
      credit_seconds: '151200',
      idle_credit_seconds: '37800',
      credit_hour_price: '1.5',
      cost_source: 'PRICE_TABLE',
      started_at: '2026-11-02T08:00:00.000000Z',
    });
    expect(rows[3]).toMatchObject({ cost_source: 'UNPRICED', input_tokens: '1000000', corrects_entry_id: '' });
    expect(rows[4]).toMatchObject({ cost_source: 'PRICE_TABLE', corrects_entry_id: rows[3].id, input_price_per_million: '2', input_tokens: '0' });
    expect(rows.every((r) => !r.cost || r.cost !== '9')).toBe(true);
  });

  it('streams focus.csv with the FOCUS 1.2 header and one row per day, work unit and model or app, corrections folded in', async () => {
    const res = await get(`/exports/focus.csv?${WINDOW}`, org.adminKey);
    expect(res.status).toBe(200);
    const text = res.body as string;
    expect(text.slice(0, text.indexOf('\r\n'))).toBe(
      'BilledCost,BillingAccountId,BillingAccountName,BillingCurrency,BillingPeriodEnd,BillingPeriodStart,ChargeCategory,ChargeClass,ChargeDescription,ChargePeriodEnd,ChargePeriodStart,ContractedCost,EffectiveCost,InvoiceIssuerName,ListCost,PricingQuantity,PricingUnit,ProviderName,PublisherName,ServiceCategory,ServiceName,ConsumedQuantity,ConsumedUnit,SkuId,ResourceId,Tags,x_Meter,x_WorkUnitId,x_WorkUnitExternalRef,x_PoolId,x_PoolName,x_AppId,x_AppKey,x_Provider,x_Model,x_InputTokens,x_CachedInputTokens,x_OutputTokens,x_ReasoningTokens,x_CreditHours,x_IdleCreditHours,x_CorrectionCost,x_LedgerEntries',
    );
    expect(FOCUS_COLUMNS).toHaveLength(43);
    const rows = records(text);
    const [{ name, currency }]: { name: string; currency: string }[] = await dataSource.query('SELECT name, currency FROM organizations WHERE id = $1', [
      org.organizationId,
    ]);
    expect(rows).toHaveLength(3);
    const common = {
      BillingAccountId: org.organizationId,
      BillingAccountName: name,
      BillingCurrency: currency,
      BillingPeriodStart: '2026-11-01T00:00:00Z',
      BillingPeriodEnd: '2026-12-01T00:00:00Z',
      ChargeCategory: 'Usage',
      ChargeClass: '',
      ResourceId: workUnitId,
    };
    // Day 1 compute: 0.25 + 0.5 + 0 (unpriced) + 2 (its correction); tokens 1,200 + 2,400 + 1,000,000.
    expect(rows[0]).toMatchObject({
      ...common,
      x_Meter: 'COMPUTE',
      BilledCost: '2.75',
      EffectiveCost: '2.75',
      ListCost: '2.75',
      ContractedCost: '2.75',
      x_CorrectionCost: '2',
      x_LedgerEntries: '4',
      PricingQuantity: '1003600',
      PricingUnit: 'Tokens',
      ConsumedQuantity: '1003600',
      ConsumedUnit: 'Tokens',
      ServiceCategory: 'AI and Machine Learning',
      ProviderName: 'openai',
      ChargePeriodStart: '2026-11-02T00:00:00Z',
      ChargePeriodEnd: '2026-11-03T00:00:00Z',
      x_InputTokens: '1003000',
      x_OutputTokens: '600',
    });
    // Day 1 license: 21 credits for 2 h = 42 credit-hours at 1.5.
    expect(rows[1]).toMatchObject({
      ...common,
      x_Meter: 'LICENSE',
      BilledCost: '63',
      PricingQuantity: '42',
      PricingUnit: 'Credit-Hours',
      x_IdleCreditHours: '10.5',
      ServiceName: 'cad',
      ServiceCategory: 'Other',
      x_AppId: appId,
      x_PoolId: poolId,
      x_LedgerEntries: '1',
    });
    expect(rows[2]).toMatchObject({ ...common, x_Meter: 'COMPUTE', BilledCost: '0.01', PricingQuantity: '15', ChargePeriodStart: '2026-11-03T00:00:00Z' });
    // The outcome is read as of `to`: ACCEPTED was recorded after this window ended.
    expect(JSON.parse(rows[0].Tags)).toEqual({
      'tokenpool/work_unit': unitRef,
      'tokenpool/team': 'claims',
      'tokenpool/process': 'claims-handling',
      'tokenpool/org_unit_kind': 'GOING_CONCERN',
      'tokenpool/outcome': 'PENDING',
    });
    const now = records(
      (await get(`/exports/focus.csv?from=2026-11-02T00:00:00Z&to=${new Date(Date.now() + 60_000).toISOString()}`, viewer.key)).body as string,
    );
    expect(JSON.parse(now[0].Tags)['tokenpool/outcome']).toBe('ACCEPTED');
  });

  it('answers 401 without a key or with an unknown one, and 403 for a CLIENT key', async () => {
    expect((await get(`/exports/ledger.csv?${WINDOW}`, null)).status).toBe(401);
    const unknown = await get(`/exports/focus.csv?${WINDOW}`, 'tp_nope');
    expect(unknown.status).toBe(401);
    expect(JSON.parse(unknown.body as string).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const forbidden = await get(`/exports/ledger.csv?${WINDOW}`, client.key);
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.body as string).errors[0].extensions.code).toBe('FORBIDDEN');
  });

  it.each([
    ['to=2026-11-04T00:00:00Z', 'from'],
    ['from=yesterday&to=2026-11-04T00:00:00Z', 'from'],
    ['from=2026-11-04T00:00:00Z&to=2026-11-02T00:00:00Z', 'to'],
    ['from=2025-01-01T00:00:00Z&to=2026-11-04T00:00:00Z', 'to'],
  ])('answers 400 BAD_USER_INPUT for a bad window (%s)', async (query, field) => {
    const res = await get(`/exports/ledger.csv?${query}`, viewer.key);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body as string).errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });

  it('neutralises text cells a spreadsheet would run as formulas, and writes negative numbers as numbers', async () => {
    const tenant = await t.organization('exports-formulas');
    const writer = await t.principalWithKey(tenant.adminKey, 'CLIENT', { name: '@SUM(1+1)', orgUnitKind: 'CHANGE' });
    const ref = `=HYPERLINK("http://evil.example","open") ${randomUUID().slice(0, 8)}`;
    const unit = await t.gql<{ upsertWorkUnit: { id: string } }>(writer.key, UPSERT, { input: { externalRef: ref, team: '-team', process: '+process' } });
    const unitId = unit.data!.upsertWorkUnit.id;
    await t.gql(writer.key, RECORD, {
      events: [
        {
          eventId: randomUUID(),
          workUnitId: unitId,
          provider: '+p',
          model: '-cmd',
          inputTokens: 3,
          outputTokens: 0,
          cost: 1,
          occurredAt: '2026-11-02T09:00:00Z',
        },
      ],
    });
    // The API refuses a negative cost; a row written straight shows how a negative number leaves.
    await dataSource.query(
      `INSERT INTO ledger_entries (id, organization_id, event_key, kind, meter, work_unit_id, principal_id, occurred_at, input_tokens, cost, currency, cost_source, provider, model)
       SELECT nextval('ledger_entries_id_seq'), $1, 'compute:negative', 'COMPUTE', 'COMPUTE', $2, $3, '2026-11-02T10:00:00Z', 0, -1.5, currency, 'CALLER', '+p', '-cmd'
       FROM organizations WHERE id = $1`,
      [tenant.organizationId, unitId, writer.principalId],
    );
    const ledger = records((await get(`/exports/ledger.csv?${WINDOW}`, tenant.adminKey)).body as string);
    expect(ledger.map((r) => [r.work_unit_external_ref, r.principal_name, r.provider, r.model, r.cost])).toEqual([
      [`'${ref}`, "'@SUM(1+1)", "'+p", "'-cmd", '1'],
      [`'${ref}`, "'@SUM(1+1)", "'+p", "'-cmd", '-1.5'],
    ]);
    const focus = records((await get(`/exports/focus.csv?${WINDOW}`, tenant.adminKey)).body as string);
    expect(focus).toHaveLength(1);
    expect(focus[0]).toMatchObject({
      BilledCost: '-0.5',
      ListCost: '-0.5',
      ChargeDescription: `'+p -cmd tokens for work unit ${ref}`,
      ProviderName: "'+p",
      ServiceName: "'-cmd",
      SkuId: "'+p/-cmd",
      x_WorkUnitExternalRef: `'${ref}`,
    });
    // JSON starts with a brace: the values inside it stay as they were sent.
    expect(JSON.parse(focus[0].Tags)).toMatchObject({ 'tokenpool/work_unit': ref, 'tokenpool/team': '-team', 'tokenpool/process': '+process' });
  });

  describe('300,000 rows through a spawned API process', () => {
    const ROWS = 300_000;
    let api: ApiProcess;
    let bulk: { organizationId: string; adminKey: string };

    beforeAll(async () => {
      bulk = await t.organization('exports-bulk');
      await dataSource.query(
        `WITH ids AS (SELECT nextval('ledger_entries_id_seq') AS id, n FROM generate_series(1, $3::int) n),
              keys AS (INSERT INTO ledger_event_keys (organization_id, event_key, entry_id, occurred_at, content_hash)
                       SELECT $1, 'compute:bulk-' || n, id, $2::timestamptz + n * interval '50 milliseconds', 'bulk' FROM ids
                       RETURNING entry_id, event_key, occurred_at)
         INSERT INTO ledger_entries (id, organization_id, event_key, kind, meter, occurred_at, input_tokens, output_tokens, cost, currency, cost_source, provider, model)
         SELECT k.entry_id, $1, k.event_key, 'COMPUTE', 'COMPUTE', k.occurred_at, 1000, 200, 0.0125, o.currency, 'CALLER', 'openai', 'gpt-bulk'
         FROM keys k JOIN organizations o ON o.id = $1`,
        [bulk.organizationId, '2026-10-05T00:00:00Z', ROWS],
      );
      // For FOCUS: 30,000 groups over ten days (each model on each day once).
      await dataSource.query(
        `WITH ids AS (SELECT nextval('ledger_entries_id_seq') AS id, n FROM generate_series(0, 29999) n),
              keys AS (INSERT INTO ledger_event_keys (organization_id, event_key, entry_id, occurred_at, content_hash)
                       SELECT $1, 'compute:focus-' || n, id, $2::timestamptz + (n % 10) * interval '1 day' + n * interval '1 millisecond', 'bulk' FROM ids
                       RETURNING entry_id, event_key, occurred_at)
         INSERT INTO ledger_entries (id, organization_id, event_key, kind, meter, occurred_at, input_tokens, output_tokens, cost, currency, cost_source, provider, model)
         SELECT k.entry_id, $1, k.event_key, 'COMPUTE', 'COMPUTE', k.occurred_at, 10, 2, 0.5, o.currency, 'CALLER', 'openai', 'm-' || (substr(k.event_key, 15)::int / 10)
         FROM keys k JOIN organizations o ON o.id = $1`,
        [bulk.organizationId, '2026-09-01T00:00:00Z'],
      );
      // V8 grows its heap lazily while garbage is cheap to keep (86 MB of RSS growth was
      // measured for 200,000 rows without a cap, flat across repeated exports). A 96 MB old
      // space makes it collect instead, so RSS shows what the export keeps alive: a process
      // that held the file (its text plus 300,000 row objects) would exceed the cap and crash.
      // Slots enough for one organization to meet the process's own ceiling of exports.
      api = await startApi({ NODE_OPTIONS: '--max-old-space-size=96', EXPORT_SLOTS_PER_ORGANIZATION: '8' });
    });

    afterAll(async () => {
      await api?.stop();
    });

    it('exports every row while the process memory stays far below the size of the file', async () => {
      const url = `${api.url}/exports/ledger.csv?from=2026-10-05T00:00:00Z&to=2026-10-06T00:00:00Z`;
      const headers = { authorization: `Bearer ${bulk.adminKey}` };
      // Warm up (connection pool, JIT, first-use allocations) on a tiny window, then measure.
      await (await fetch(`${api.url}/exports/ledger.csv?from=2026-10-05T00:00:00Z&to=2026-10-05T00:01:00Z`, { headers })).text();
      const pid = api.proc.pid!;
      const baseline = rssKb(pid);
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, rssKb(pid))), 20);
      let bytes = 0;
      let lines = 0;
      try {
        const res = await fetch(url, { headers });
        expect(res.status).toBe(200);
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          bytes += chunk.byteLength;
          lines += decoder.decode(chunk, { stream: true }).split('\n').length - 1;
          peak = Math.max(peak, rssKb(pid));
        }
      } finally {
        clearInterval(sampler);
      }
      const growthKb = peak - baseline;
      process.stdout.write(`exports: ${lines - 1} rows, ${bytes} bytes, RSS baseline ${baseline} kB, peak ${peak} kB, growth ${growthKb} kB\n`);
      expect(lines - 1).toBe(ROWS);
      // Holding the file would take at least its size (more as JS strings and row objects).
      expect(growthKb * 1024).toBeLessThan(bytes / 2);
    });

    it('refuses a fifth export in one process at once with 429, a retry-after header and the usual error body', async () => {
      const url = `${api.url}/exports/ledger.csv?from=2026-10-05T00:00:00Z&to=2026-10-06T00:00:00Z`;
      const headers = { authorization: `Bearer ${bulk.adminKey}` };
      const controller = new AbortController();
      // Four exports read one chunk each and then stall: each keeps its connection and its slot.
      const readers = await Promise.all(
        [1, 2, 3, 4].map(async () => {
          const res = await fetch(url, { headers, signal: controller.signal });
          const reader = (res.body as ReadableStream<Uint8Array>).getReader();
          await reader.read();
          return reader;
        }),
      );
      try {
        const refused = await fetch(url, { headers });
        expect(refused.status).toBe(429);
        expect(refused.headers.get('retry-after')).toBe('5');
        expect(await refused.json()).toEqual({
          errors: [
            {
              message: 'This server runs 4 exports already, the most it runs at once; retry shortly',
              extensions: { code: 'RATE_LIMITED', retryAfterSeconds: 5 },
            },
          ],
        });
      } finally {
        controller.abort();
        await Promise.all(readers.map((reader) => reader.cancel().catch(() => undefined)));
      }
      const open = async () =>
        Number(
          (
            await dataSource.query(
              `SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'FETCH % FROM export_rows' OR query LIKE 'DECLARE export_rows%'`,
            )
          )[0].n,
        );
      for (let i = 0; i < 200 && (await open()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await open()).toBe(0);
      // The slots are free again.
      const after = await fetch(`${api.url}/exports/ledger.csv?from=2026-10-05T00:00:00Z&to=2026-10-05T00:00:01Z`, { headers });
      expect(after.status).toBe(200);
      // The header, 19 rows (one every 50 ms) and the empty rest after the last CRLF.
      expect((await after.text()).split('\r\n').length).toBe(21);
    });

    it('gives both connections of a FOCUS export back when the client goes away mid-file', async () => {
      const controller = new AbortController();
      const res = await fetch(`${api.url}/exports/focus.csv?from=2026-09-01T00:00:00Z&to=2026-09-11T00:00:00Z`, {
        headers: { authorization: `Bearer ${bulk.adminKey}` },
        signal: controller.signal,
      });
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      const open = async () =>
        Number(
          (
            await dataSource.query(
              `SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'FETCH % FROM export_rows' OR query LIKE 'DECLARE export_rows%' OR query LIKE 'SET TRANSACTION SNAPSHOT%'`,
            )
          )[0].n,
        );
      controller.abort();
      await reader.cancel().catch(() => undefined);
      for (let i = 0; i < 200 && (await open()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await open()).toBe(0);
    });

    it('streams a FOCUS export of many days from two connections in day order', async () => {
      const res = await fetch(`${api.url}/exports/focus.csv?from=2026-09-01T00:00:00Z&to=2026-09-11T00:00:00Z`, {
        headers: { authorization: `Bearer ${bulk.adminKey}` },
      });
      const rows = records(await res.text());
      expect(rows).toHaveLength(30_000);
      const days = rows.map((r) => r.ChargePeriodStart);
      expect(days).toEqual([...days].sort());
      expect(new Set(days).size).toBe(10);
      expect(rows.every((r) => r.BilledCost === '0.5' && r.PricingQuantity === '12')).toBe(true);
    });

    it('gives the connection back when the client goes away mid-file', async () => {
      const controller = new AbortController();
      const res = await fetch(`${api.url}/exports/ledger.csv?from=2026-10-05T00:00:00Z&to=2026-10-06T00:00:00Z`, {
        headers: { authorization: `Bearer ${bulk.adminKey}` },
        signal: controller.signal,
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      const open = async () =>
        Number(
          (
            await dataSource.query(
              `SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'FETCH % FROM export_rows' OR query LIKE 'DECLARE export_rows%'`,
            )
          )[0].n,
        );
      controller.abort();
      await reader.cancel().catch(() => undefined);
      for (let i = 0; i < 200 && (await open()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await open()).toBe(0);
    });
  });
});
