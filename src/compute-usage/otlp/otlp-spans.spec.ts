import { readSpans } from './otlp-spans';

const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
const span = (attributes: unknown[], extra: Record<string, unknown> = {}) => ({
  traceId: '5B8EFFF798038103D269B633813FC60C',
  spanId: 'EEE19B7EC3C1B174',
  endTimeUnixNano: '1781524800123456789',
  attributes,
  ...extra,
});
const usage = [
  kv('gen_ai.provider.name', { stringValue: 'openai' }),
  kv('gen_ai.request.model', { stringValue: 'gpt-4.1' }),
  kv('gen_ai.usage.input_tokens', { intValue: '120' }),
  kv('gen_ai.usage.output_tokens', { intValue: 30 }),
];
const body = (spans: unknown[], resource: unknown[] = []) => ({ resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ spans }] }] });

describe('readSpans', () => {
  it('reads a usage span: ids, model, provider, tokens, end time, and the work unit from the resource', () => {
    const reading = readSpans(
      body(
        [span([...usage, kv('gen_ai.response.model', { stringValue: 'gpt-4.1-0414' }), kv('gen_ai.usage.cache_read.input_tokens', { intValue: 100 })])],
        [kv('tokenpool.work_unit', { stringValue: 'run-7' })],
      ),
    );
    expect(reading).toEqual({
      rejected: [],
      usages: [
        {
          eventId: 'otlp:5b8efff798038103d269b633813fc60c:eee19b7ec3c1b174',
          workUnitRef: 'run-7',
          provider: 'openai',
          model: 'gpt-4.1-0414',
          inputTokens: 120,
          outputTokens: 30,
          cachedInputTokens: 100,
          reasoningOutputTokens: null,
          occurredAt: new Date(1781524800123),
        },
      ],
    });
  });

  it('prefers the span’s work unit to the resource’s, and falls back to gen_ai.system for the provider', () => {
    const attrs = [
      kv('gen_ai.system', { stringValue: 'anthropic' }),
      kv('gen_ai.request.model', { stringValue: 'c' }),
      kv('gen_ai.usage.output_tokens', { intValue: 1 }),
      kv('tokenpool.work_unit', { stringValue: 'span-ref' }),
    ];
    const [usageRead] = readSpans(body([span(attrs)], [kv('tokenpool.work_unit', { stringValue: 'resource-ref' })])).usages;
    expect(usageRead).toMatchObject({ provider: 'anthropic', workUnitRef: 'span-ref', inputTokens: 0, outputTokens: 1 });
  });

  it('skips spans without usage and rejects usage spans without model, provider or end time', () => {
    const reading = readSpans(
      body([
        span([kv('http.method', { stringValue: 'GET' })]),
        span(usage.filter((a) => a.key !== 'gen_ai.request.model')),
        span(usage.filter((a) => a.key !== 'gen_ai.provider.name')),
        span(usage, { endTimeUnixNano: undefined }),
      ]),
    );
    expect(reading.usages).toEqual([]);
    expect(reading.rejected).toEqual([
      expect.stringContaining('gen_ai.response.model or gen_ai.request.model is required'),
      expect.stringContaining('gen_ai.provider.name (or gen_ai.system) is required'),
      expect.stringContaining('endTimeUnixNano is required'),
    ]);
  });

  it('reads a malformed token count as NaN, for the event checks to refuse', () => {
    const [read] = readSpans(body([span([...usage.slice(0, 2), kv('gen_ai.usage.input_tokens', { stringValue: 'many' })])])).usages;
    expect(read.inputTokens).toBeNaN();
  });

  it('refuses a body that is not an export, and takes an empty one', () => {
    expect(() => readSpans([1])).toThrow('OTLP ExportTraceServiceRequest');
    expect(() => readSpans({ resourceSpans: 3 })).toThrow('resourceSpans must be an array');
    expect(readSpans({})).toEqual({ usages: [], rejected: [] });
  });
});
