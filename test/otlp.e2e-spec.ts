import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { TestApp } from './support/app';
import { gzipBombs, gzipOfZeros, pbAttribute, pbExport, pbField, pbSpan } from './support/otlp-bodies';
import { ApiProcess, startApi } from './support/processes';

const MAX_SPANS = 5;
const MAX_ATTRIBUTES = 10;

type ExporterConfig = NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>;

interface LedgerRow {
  event_key: string;
  provider: string;
  model: string;
  input_tokens: string;
  cached_input_tokens: string;
  output_tokens: string;
  reasoning_tokens: string;
  occurred_at: Date;
  work_unit_id: string | null;
  cost_source: string;
}

/** POST /v1/traces, fed by the real OpenTelemetry SDK and its OTLP/HTTP exporter, against the listening API. */
describe('OTLP trace ingest', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let url: string;
  let org: { organizationId: string; adminKey: string };
  let client: { key: string; principalId: string };

  beforeAll(async () => {
    // Low bounds for this file's in-process app; the real API process below runs the defaults.
    Object.assign(process.env, { OTLP_MAX_SPANS: String(MAX_SPANS), OTLP_MAX_ATTRIBUTES: String(MAX_ATTRIBUTES) });
    t = await TestApp.start();
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/v1/traces`;
    dataSource = t.app.get(DataSource);
    org = await t.organization('otlp');
    client = await t.principalWithKey(org.adminKey, 'CLIENT', { name: 'agent-runtime', kind: 'AGENT', orgUnitKind: 'CHANGE' });
  });

  afterAll(async () => {
    await t.close();
  });

  function tracer(options: { resource?: Record<string, string>; exporter?: Partial<ExporterConfig> } = {}) {
    const exporter = new OTLPTraceExporter({ url, headers: { Authorization: `Bearer ${client.key}` }, ...options.exporter });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'agent', ...options.resource }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    return { provider, tracer: provider.getTracer('otlp-e2e') };
  }

  async function rowsFor(traceIds: string[]): Promise<LedgerRow[]> {
    return dataSource.query(
      `SELECT event_key, provider, model, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, occurred_at, work_unit_id, cost_source
       FROM ledger_entries WHERE organization_id = $1 AND split_part(event_key, ':', 3) = ANY($2) ORDER BY input_tokens`,
      [org.organizationId, traceIds],
    );
  }

  it('turns every span with gen_ai usage into a compute event, on the work unit its attributes name (created on first sight)', async () => {
    const runRef = `run-${randomUUID()}`;
    const ticketRef = `ticket-${randomUUID()}`;
    const { provider, tracer: otel } = tracer({ resource: { 'tokenpool.work_unit': runRef } });
    const chat = otel.startSpan('chat gpt-4.1', {
      attributes: {
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4.1',
        'gen_ai.response.model': 'gpt-4.1-2025-04-14',
        'gen_ai.usage.input_tokens': 1200,
        'gen_ai.usage.output_tokens': 300,
        'gen_ai.usage.cache_read.input_tokens': 1000,
      },
    });
    chat.end();
    const older = otel.startSpan('chat claude', {
      attributes: {
        'gen_ai.system': 'anthropic',
        'gen_ai.request.model': 'claude-x',
        'gen_ai.usage.input_tokens': 50,
        'gen_ai.usage.output_tokens': 7,
        'tokenpool.work_unit': ticketRef,
      },
    });
    older.end();
    const plain = otel.startSpan('http get');
    plain.end();
    await provider.forceFlush();
    await provider.shutdown();

    const traceIds = [chat.spanContext().traceId, older.spanContext().traceId, plain.spanContext().traceId];
    const rows = await rowsFor(traceIds);
    const units: { id: string; external_ref: string; org_unit_kind: string }[] = await dataSource.query(
      'SELECT id, external_ref, org_unit_kind FROM work_units WHERE organization_id = $1 AND external_ref = ANY($2)',
      [org.organizationId, [runRef, ticketRef]],
    );
    const unitOf = (ref: string) => units.find((u) => u.external_ref === ref)?.id;
    expect(units.map((u) => u.org_unit_kind)).toEqual(['CHANGE', 'CHANGE']);
    expect(rows.map(({ occurred_at: _at, ...row }) => row)).toEqual([
      {
        event_key: `compute:otlp:${older.spanContext().traceId}:${older.spanContext().spanId}`,
        provider: 'anthropic',
        model: 'claude-x',
        input_tokens: '50',
        cached_input_tokens: '0',
        output_tokens: '7',
        reasoning_tokens: '0',
        work_unit_id: unitOf(ticketRef),
        cost_source: 'UNPRICED',
      },
      {
        event_key: `compute:otlp:${chat.spanContext().traceId}:${chat.spanContext().spanId}`,
        provider: 'openai',
        model: 'gpt-4.1-2025-04-14',
        input_tokens: '1200',
        cached_input_tokens: '1000',
        output_tokens: '300',
        reasoning_tokens: '0',
        work_unit_id: unitOf(runRef),
        cost_source: 'UNPRICED',
      },
    ]);
    const [endSeconds, endNanos] = (chat as unknown as { endTime: [number, number] }).endTime;
    expect(rows[1].occurred_at.getTime()).toBe(endSeconds * 1000 + Math.floor(endNanos / 1e6));
  });

  it('accepts gzip bodies from the exporter', async () => {
    const { provider, tracer: otel } = tracer({ exporter: { compression: 'gzip' as ExporterConfig['compression'] } });
    const span = otel.startSpan('chat', {
      attributes: { 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-zip', 'gen_ai.usage.input_tokens': 3, 'gen_ai.usage.output_tokens': 4 },
    });
    span.end();
    await provider.forceFlush();
    await provider.shutdown();
    expect((await rowsFor([span.spanContext().traceId])).map((r) => r.model)).toEqual(['gpt-zip']);
  });

  it('takes the protobuf encoding from the official OTLP/HTTP protobuf exporter', async () => {
    const ref = `proto-${randomUUID()}`;
    const exporter = new OTLPProtoTraceExporter({ url, headers: { Authorization: `Bearer ${client.key}` } });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'tokenpool.work_unit': ref }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const span = provider.getTracer('proto').startSpan('chat', {
      attributes: {
        'gen_ai.provider.name': 'self-hosted',
        'gen_ai.response.model': 'llama-proto',
        'gen_ai.usage.input_tokens': 4096,
        'gen_ai.usage.cache_read.input_tokens': 1024,
        'gen_ai.usage.output_tokens': 2_000_000,
        'gen_ai.usage.reasoning.output_tokens': 1500,
      },
    });
    span.end();
    await provider.forceFlush();
    await provider.shutdown();
    const [row] = await rowsFor([span.spanContext().traceId]);
    const [unit]: { id: string }[] = await dataSource.query('SELECT id FROM work_units WHERE organization_id = $1 AND external_ref = $2', [
      org.organizationId,
      ref,
    ]);
    expect(row).toMatchObject({
      event_key: `compute:otlp:${span.spanContext().traceId}:${span.spanContext().spanId}`,
      provider: 'self-hosted',
      model: 'llama-proto',
      input_tokens: '4096',
      cached_input_tokens: '1024',
      output_tokens: '2000000',
      reasoning_tokens: '1500',
      work_unit_id: unit.id,
    });
  });

  it('answers a protobuf export with a partial success the official exporter decodes', async () => {
    const warnings: string[] = [];
    const keep = (...args: unknown[]) => warnings.push(args.map(String).join(' '));
    diag.setLogger({ error: keep, warn: keep, info: () => undefined, debug: () => undefined, verbose: () => undefined }, DiagLogLevel.WARN);
    try {
      const exporter = new OTLPProtoTraceExporter({ url, headers: { Authorization: `Bearer ${client.key}` } });
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      const bad = provider
        .getTracer('proto')
        .startSpan('chat', { attributes: { 'gen_ai.provider.name': 'x', 'gen_ai.request.model': 'y', 'gen_ai.usage.input_tokens': -3 } });
      bad.end();
      await provider.forceFlush();
      await provider.shutdown();
    } finally {
      diag.disable();
    }
    expect(warnings.join('\n')).toMatch(/Received Partial Success response:.*rejectedSpans.*inputTokens must be a whole number of at least 0/);
  });

  describe('answers as OTLP does', () => {
    const traceId = () => randomUUID().replace(/-/g, '');
    const span = (attributes: Record<string, unknown>, id = traceId()) => ({
      traceId: id,
      spanId: id.slice(0, 16),
      name: 'chat',
      startTimeUnixNano: String(BigInt(Date.now() - 1000) * 1_000_000n),
      endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
      attributes: Object.entries(attributes).map(([key, value]) => ({
        key,
        value: typeof value === 'number' ? { intValue: String(value) } : { stringValue: value },
      })),
    });
    const body = (spans: unknown[]) => ({ resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: 'e2e' }, spans }] }] });
    const usage = { 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-raw', 'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.output_tokens': 5 };

    function post(payload: unknown, key: string | null = client.key) {
      const req = request(t.server).post('/v1/traces').set('content-type', 'application/json');
      if (key) req.set('authorization', `Bearer ${key}`);
      return req.send(JSON.stringify(payload));
    }

    it('records the valid spans of an export and counts the others in partialSuccess.rejectedSpans', async () => {
      const good = span(usage);
      const res = await post(
        body([
          good,
          span({ ...usage, 'gen_ai.usage.input_tokens': -5 }),
          span({ 'gen_ai.provider.name': 'openai', 'gen_ai.usage.input_tokens': 1 }),
          span({ 'http.method': 'GET' }),
        ]),
      );
      expect(res.status).toBe(200);
      expect(res.body.partialSuccess.rejectedSpans).toBe(2);
      expect(res.body.partialSuccess.errorMessage).toContain('inputTokens');
      expect(res.body.partialSuccess.errorMessage).toContain('gen_ai.response.model or gen_ai.request.model is required');
      expect((await rowsFor([good.traceId])).map((r) => r.input_tokens)).toEqual(['10']);
      const replay = await post(body([good]));
      expect(replay.body).toEqual({ partialSuccess: {} });
      const conflict = await post(body([{ ...good, attributes: span({ ...usage, 'gen_ai.usage.output_tokens': 6 }).attributes }]));
      expect(conflict.body.partialSuccess.rejectedSpans).toBe(1);
      expect((await rowsFor([good.traceId])).map((r) => r.output_tokens)).toEqual(['5']);
    });

    it('takes a gzip body', async () => {
      const good = span(usage);
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${client.key}` },
        body: gzipSync(Buffer.from(JSON.stringify(body([good])))),
      });
      expect(await res.json()).toEqual({ partialSuccess: {} });
      expect((await rowsFor([good.traceId])).length).toBe(1);
    });

    it('refuses a request without a key (401), from a VIEWER key (403), and a body that is not an export or not JSON (400)', async () => {
      expect((await post(body([]), null)).status).toBe(401);
      const viewer = await t.principalWithKey(org.adminKey, 'VIEWER');
      const forbidden = await post(body([span(usage)]), viewer.key);
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.errors[0].extensions.code).toBe('FORBIDDEN');
      const bad = await post([1, 2]);
      expect(bad.status).toBe(400);
      expect(bad.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      const broken = await request(t.server)
        .post('/v1/traces')
        .set({ 'content-type': 'application/json', authorization: `Bearer ${client.key}` })
        .send('{"resourceSpans": [');
      expect(broken.status).toBe(400);
      expect(broken.body.errors[0].extensions.code).toBe('BAD_REQUEST');
    });

    it('answers a protobuf request in protobuf, refuses malformed protobuf with 400, and other media types with 415', async () => {
      const protobuf = (payload: Buffer) =>
        request(t.server)
          .post('/v1/traces')
          .set({ 'content-type': 'application/x-protobuf', authorization: `Bearer ${client.key}` })
          .send(payload);
      const empty = await protobuf(Buffer.alloc(0));
      expect(empty.status).toBe(200);
      expect(empty.headers['content-type']).toContain('application/x-protobuf');
      const broken = await protobuf(Buffer.from([0x0a, 0x05, 0x01]));
      expect(broken.status).toBe(400);
      expect(broken.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      const xml = await request(t.server)
        .post('/v1/traces')
        .set({ 'content-type': 'application/xml', authorization: `Bearer ${client.key}` })
        .send('<spans/>');
      expect(xml.status).toBe(415);
    });

    describe(`bounds (this file: OTLP_MAX_SPANS=${MAX_SPANS}, OTLP_MAX_ATTRIBUTES=${MAX_ATTRIBUTES})`, () => {
      const fillers = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`filler.${i}`, 'x']));
      const attributes = (count: number) => span(fillers(count)).attributes;
      const exportOf = (parts: { spans: unknown[]; resource?: unknown[]; scope?: unknown[] }[]) => ({
        resourceSpans: parts.map((p) => ({
          resource: { attributes: p.resource ?? [] },
          scopeSpans: [{ scope: { name: 'e2e', attributes: p.scope ?? [] }, spans: p.spans }],
        })),
      });
      const pbUsageSpan = (extra: number) => {
        const id = traceId();
        return {
          traceId: id,
          body: pbSpan({
            traceId: id,
            spanId: id.slice(0, 16),
            endTimeUnixNano: BigInt(Date.now()) * 1_000_000n,
            attributes: [
              pbAttribute('gen_ai.provider.name', 'openai'),
              pbAttribute('gen_ai.request.model', 'gpt-proto-bounds'),
              pbAttribute('gen_ai.usage.input_tokens', 10),
              pbAttribute('gen_ai.usage.output_tokens', 5),
              ...Array.from({ length: extra }, (_, i) => pbAttribute(`filler.${i}`, 'x')),
            ],
          }),
        };
      };
      const protobuf = (payload: Buffer) =>
        request(t.server)
          .post('/v1/traces')
          .set({ 'content-type': 'application/x-protobuf', authorization: `Bearer ${client.key}` })
          .send(payload);
      const refusal = (res: request.Response) => ({ status: res.status, code: res.body.errors?.[0]?.extensions.code, message: res.body.errors?.[0]?.message });

      it('refuses an export of more than OTLP_MAX_SPANS spans, counted across resources, with 413 BAD_REQUEST and records none of them', async () => {
        const spans = Array.from({ length: MAX_SPANS + 1 }, () => span(usage));
        const res = await post(exportOf([{ spans: spans.slice(0, 3) }, { spans: spans.slice(3) }]));
        expect(refusal(res)).toEqual({ status: 413, code: 'BAD_REQUEST', message: expect.stringContaining(`more than ${MAX_SPANS} spans (OTLP_MAX_SPANS)`) });
        expect(await rowsFor(spans.map((s) => s.traceId))).toEqual([]);
        const pbSpans = Array.from({ length: MAX_SPANS + 1 }, () => pbUsageSpan(0));
        const pbRes = await protobuf(pbExport({ spans: pbSpans.map((s) => s.body) }));
        expect(refusal(pbRes)).toEqual({ status: 413, code: 'BAD_REQUEST', message: expect.stringContaining(`more than ${MAX_SPANS} spans (OTLP_MAX_SPANS)`) });
        expect(await rowsFor(pbSpans.map((s) => s.traceId))).toEqual([]);
      });

      it('refuses a span, a scope or a resource of more than OTLP_MAX_ATTRIBUTES attributes with 413 BAD_REQUEST', async () => {
        const tooMany = `more than ${MAX_ATTRIBUTES} attributes (OTLP_MAX_ATTRIBUTES)`;
        const onSpan = await post(exportOf([{ spans: [span({ ...usage, ...fillers(MAX_ATTRIBUTES - 3) })] }]));
        expect(refusal(onSpan)).toEqual({ status: 413, code: 'BAD_REQUEST', message: expect.stringContaining(`A span carries ${tooMany}`) });
        const onScope = await post(exportOf([{ spans: [span(usage)], scope: attributes(MAX_ATTRIBUTES + 1) }]));
        expect(refusal(onScope)).toEqual({ status: 413, code: 'BAD_REQUEST', message: expect.stringContaining(`A scope carries ${tooMany}`) });
        const onResource = await post(exportOf([{ spans: [span(usage)], resource: attributes(MAX_ATTRIBUTES + 1) }]));
        expect(refusal(onResource)).toEqual({ status: 413, code: 'BAD_REQUEST', message: expect.stringContaining(`A resource carries ${tooMany}`) });
        const pbOnSpan = await protobuf(pbExport({ spans: [pbUsageSpan(MAX_ATTRIBUTES - 3).body] }));
        expect(refusal(pbOnSpan)).toEqual({ status: 413, code: 'BAD_REQUEST', message: expect.stringContaining(`A span carries ${tooMany}`) });
        const pbOnResource = await protobuf(
          pbExport({ spans: [pbUsageSpan(0).body], resource: Array.from({ length: MAX_ATTRIBUTES + 1 }, () => pbAttribute('a', 'b')) }),
        );
        expect(refusal(pbOnResource)).toEqual({ status: 413, code: 'BAD_REQUEST', message: expect.stringContaining(`A resource carries ${tooMany}`) });
      });

      it('accepts and records an export at exactly the limits, in JSON and in protobuf, and refuses one attribute more', async () => {
        const spans = Array.from({ length: MAX_SPANS }, () => span({ ...usage, ...fillers(MAX_ATTRIBUTES - 4) }));
        const res = await post(exportOf([{ spans, resource: attributes(MAX_ATTRIBUTES), scope: attributes(MAX_ATTRIBUTES) }]));
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ partialSuccess: {} });
        expect((await rowsFor(spans.map((s) => s.traceId))).length).toBe(MAX_SPANS);
        const pbSpans = Array.from({ length: MAX_SPANS }, () => pbUsageSpan(MAX_ATTRIBUTES - 4));
        const filler = Array.from({ length: MAX_ATTRIBUTES }, (_, i) => pbAttribute(`filler.${i}`, 'x'));
        const pbRes = await protobuf(pbExport({ spans: pbSpans.map((s) => s.body), resource: filler, scope: filler }));
        expect(pbRes.status).toBe(200);
        expect((await rowsFor(pbSpans.map((s) => s.traceId))).map((r) => r.model)).toEqual(Array(MAX_SPANS).fill('gpt-proto-bounds'));
        const oneMore = [...spans.slice(1), span({ ...usage, ...fillers(MAX_ATTRIBUTES - 3) })];
        expect((await post(exportOf([{ spans: oneMore, resource: attributes(MAX_ATTRIBUTES), scope: attributes(MAX_ATTRIBUTES) }]))).status).toBe(413);
      });

      it('refuses a body over OTLP_BODY_LIMIT_BYTES, plain or once inflated, with 413 BAD_REQUEST naming the limit, and broken gzip with 400', async () => {
        const limit = 4 * 1_048_576;
        const plain = await protobuf(Buffer.alloc(limit + 1));
        expect(refusal(plain)).toEqual({ status: 413, code: 'BAD_REQUEST', message: `The body is more than ${limit} bytes (OTLP_BODY_LIMIT_BYTES)` });
        const gzipped = await request(t.server)
          .post('/v1/traces')
          .set({ 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', authorization: `Bearer ${client.key}` })
          .send(await gzipOfZeros(8));
        expect(refusal(gzipped)).toEqual({
          status: 413,
          code: 'BAD_REQUEST',
          message: `The body inflates to more than ${limit} bytes (OTLP_BODY_LIMIT_BYTES)`,
        });
        const truncated = await request(t.server)
          .post('/v1/traces')
          .set({ 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', authorization: `Bearer ${client.key}` })
          .send(gzipSync(Buffer.alloc(1000)).subarray(0, 12));
        expect(refusal(truncated)).toEqual({ status: 400, code: 'BAD_REQUEST', message: expect.stringContaining('The body is not valid gzip') });
      });

      it('skips span events and links, whatever they hold, without counting them as attributes', async () => {
        const good = {
          ...span(usage),
          events: Array.from({ length: 50 }, () => ({ name: 'e', attributes: attributes(50) })),
          links: [{ traceId: traceId(), attributes: attributes(50) }],
        };
        const res = await post(exportOf([{ spans: [good] }]));
        expect(res.body).toEqual({ partialSuccess: {} });
        const events = pbField(11, Buffer.concat([pbField(2, 'e'), ...Array.from({ length: 50 }, () => pbField(3, pbAttribute('a', 'b')))]));
        const pbGood = pbUsageSpan(0);
        const pbRes = await protobuf(pbExport({ spans: [Buffer.concat([pbGood.body, events, events])] }));
        expect(pbRes.status).toBe(200);
        expect((await rowsFor([good.traceId, pbGood.traceId])).length).toBe(2);
      });
    });
  });

  describe('on a real API process with the default bounds', () => {
    let api: ApiProcess;

    beforeAll(async () => {
      api = await startApi({ OTLP_MAX_SPANS: '10000', OTLP_MAX_ATTRIBUTES: '128', OTLP_BODY_LIMIT_BYTES: String(4 * 1_048_576) });
    });

    afterAll(async () => {
      await api?.stop();
    });

    function peakRssMiB(): number {
      const line = readFileSync(`/proc/${api.proc.pid}/status`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('VmHWM:'))!;
      return Number(line.replace(/\D+/g, '')) / 1024;
    }

    async function send(body: Buffer, contentType: string) {
      const res = await fetch(`${api.url}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': contentType, 'content-encoding': 'gzip', authorization: `Bearer ${client.key}` },
        body,
      });
      const isJson = res.headers.get('content-type')?.includes('json');
      const answer = isJson ? ((await res.json()) as { errors?: { message: string; extensions: { code: string } }[] }) : (await res.arrayBuffer(), undefined);
      return { status: res.status, code: answer?.errors?.[0]?.extensions.code, message: answer?.errors?.[0]?.message };
    }

    it('takes 4 KiB gzip bombs and a gzip body of 512 MiB of zeros with a peak RSS under 300 MiB, and answers { me { name } } after', async () => {
      const answers: Record<string, unknown>[] = [];
      const peaks: Record<string, number> = { 'before any bomb': peakRssMiB() };
      for (const bomb of gzipBombs()) {
        answers.push({ bomb: bomb.name, kib: Math.ceil(bomb.body.length / 1024), ...(await send(bomb.body, bomb.contentType)) });
        peaks[bomb.name] = peakRssMiB();
      }
      answers.push({ bomb: '512 MiB of zeros', ...(await send(await gzipOfZeros(512), 'application/x-protobuf')) });
      peaks['512 MiB of zeros'] = peakRssMiB();
      expect(answers).toEqual([
        {
          bomb: 'one span of 2,000,000 empty attributes',
          kib: 4,
          status: 413,
          code: 'BAD_REQUEST',
          message: expect.stringContaining('more than 128 attributes (OTLP_MAX_ATTRIBUTES)'),
        },
        { bomb: '10,000 spans of 128 empty attributes', kib: 12, status: 200, code: undefined, message: undefined },
        { bomb: '2,000,000 empty spans', kib: 4, status: 413, code: 'BAD_REQUEST', message: expect.stringContaining('more than 10000 spans (OTLP_MAX_SPANS)') },
        { bomb: '2,000,000 empty resources', kib: 4, status: 200, code: undefined, message: undefined },
        { bomb: 'JSON: a span of 1,300,000 empty events', kib: 4, status: 200, code: undefined, message: undefined },
        { bomb: '512 MiB of zeros', status: 413, code: 'BAD_REQUEST', message: 'The body inflates to more than 4194304 bytes (OTLP_BODY_LIMIT_BYTES)' },
      ]);
      // VmHWM only grows: the first bomb past 300 MiB is the one that amplifies.
      expect(Object.entries(peaks).filter(([, mib]) => mib >= 300)).toEqual([]);
      const me = await api.gql(client.key, '{ me { name } }');
      expect(me.body.data).toEqual({ me: { name: 'agent-runtime' } });
    }, 180_000);
  });
});
