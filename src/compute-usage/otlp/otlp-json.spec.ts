import { AppError } from '../../common/errors/app-error';
import { decodeJsonTraceExport } from './otlp-json';
import { OtlpBudget, OtlpLimitExceeded } from './otlp-limits';
import { readSpans } from './otlp-spans';

const roomy = () => new OtlpBudget({ maxSpans: 100, maxAttributes: 100 });
const decode = (text: string) => decodeJsonTraceExport(text, roomy());

const usage = [
  { key: 'gen_ai.provider.name', value: { stringValue: 'openai' } },
  { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4.1' } },
  { key: 'gen_ai.usage.input_tokens', value: { intValue: '120' } },
  { key: 'gen_ai.usage.output_tokens', value: { intValue: 30 } },
];
const span = (extra: Record<string, unknown> = {}) => ({
  traceId: '5B8EFFF798038103D269B633813FC60C',
  spanId: 'EEE19B7EC3C1B174',
  endTimeUnixNano: '1781524800123456789',
  attributes: usage,
  ...extra,
});
const exportOf = (spans: unknown[], resource: unknown = { attributes: [] }) =>
  JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 's' }, spans }] }] });

/** What readSpans makes of a body, or the error it refuses it with. */
function outcome(read: () => unknown): unknown {
  try {
    return read();
  } catch (err) {
    return { refused: err instanceof AppError ? [err.code, err.message] : String(err) };
  }
}

describe('decodeJsonTraceExport', () => {
  it('reads every export as JSON.parse and readSpans would, whatever the types and shapes', () => {
    const bodies = [
      exportOf([span()], { attributes: [{ key: 'tokenpool.work_unit', value: { stringValue: 'run-7' } }] }),
      exportOf([
        span({
          attributes: [
            ...usage,
            { key: 'gen_ai.response.model', value: { stringValue: 'gpt-\u00e9\ud83d\ude00' } },
            { key: 'gen_ai.usage.cache_read.input_tokens', value: { doubleValue: 12 } },
          ],
        }),
      ]),
      exportOf([span({ events: [{ name: 'e', attributes: usage }], links: [{ traceId: 'x' }], name: 'chat', status: {} })]),
      exportOf([span({ attributes: [{ value: { stringValue: 'x' }, key: 'gen_ai.request.model' }, ...usage] })]),
      exportOf([
        span({
          attributes: [
            null,
            3,
            'a',
            [],
            { key: 3, value: {} },
            { key: 'gen_ai.system', value: 'plain' },
            { key: 'gen_ai.usage.input_tokens', value: [] },
            ...usage.slice(1),
          ],
        }),
      ]),
      exportOf([span({ traceId: { nested: [1] }, spanId: ['a'] })]),
      exportOf([span({ endTimeUnixNano: 1.5e18 }), null, 7, [span()]]),
      exportOf([span({ attributes: { key: 'gen_ai.request.model' } })]),
      exportOf([span()], []),
      exportOf([span()], 'resource'),
      JSON.stringify({
        resourceSpans: [{ instrumentationLibrarySpans: [{ spans: [span({ spanId: 'AAAAAAAAAAAAAAAA' })] }], scopeSpans: [{ spans: [span()] }] }],
      }),
      `{"resourceSpans": [{"scopeSpans": [{"spans": [${JSON.stringify(span({ spanId: 'BBBBBBBBBBBBBBBB' }))}], "spans": [${JSON.stringify(span())}]}]}, 5, null, {"scopeSpans": "x"}]}`,
      '{"resourceSpans": 3}',
      '{"resourceSpans": null}',
      '{"resourceSpans": {}, "resourceSpans": []}',
      '{"resourceSpans": [], "resourceSpans": {}}',
      '{}',
      '[1, 2]',
      '"text"',
      ' {"other": [{"deep": [[[{"a": "\\" \\\\ \\u0041"}]]]}, true, false, null, -1.5e+3]} ',
      '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"AB","spanId":"CD","endTimeUnixNano":"1","attributes":[{"key":"gen_ai.request.\\u006dodel","value":{"stringValue":"a\\nb"}},{"key":"gen_ai.system","value":{"stringValue":"s"}},{"key":"gen_ai.usage.input_tokens","value":{"intValue":"1e3"}}]}]}]}]}',
    ];
    for (const body of bodies) {
      expect({ body, read: outcome(() => readSpans(decode(body))) }).toEqual({ body, read: outcome(() => readSpans(JSON.parse(body))) });
    }
  });

  it('keeps only the attributes readSpans reads and the span fields it needs', () => {
    const decoded = decode(
      exportOf([span({ attributes: [{ key: 'http.url', value: { stringValue: 'x' } }, usage[1]], name: 'chat', events: [{}] })], {
        attributes: [{ key: 'service.name', value: { stringValue: 'a' } }],
      }),
    );
    expect(decoded).toEqual({
      resourceSpans: [
        {
          resource: { attributes: [] },
          scopeSpans: [{ spans: [{ traceId: span().traceId, spanId: span().spanId, endTimeUnixNano: span().endTimeUnixNano, attributes: [usage[1]] }] }],
        },
      ],
    });
  });

  it('refuses text that is not JSON with BAD_REQUEST, in the parts it skips too', () => {
    const broken = [
      '',
      '{',
      '{"resourceSpans": [',
      '{"a": 1,}',
      '{"x": [1,]}',
      '{"x": "\\q"}',
      '{"x": "\\u12"}',
      '{"x": 01}',
      '{"x": "a\nb"}',
      '{"x": tru}',
      '{} x',
      '[1, 2',
      '{"x": {"a" 1}}',
      '{"x": [}',
      "{'x': 1}",
    ];
    for (const text of broken) {
      expect(() => JSON.parse(text)).toThrow();
      expect({ text, read: outcome(() => decode(text)) }).toEqual({
        text,
        read: { refused: ['BAD_REQUEST', expect.stringContaining('The body is not valid JSON')] },
      });
    }
  });

  it('skips nesting of any depth without running out of stack', () => {
    const depth = 200_000;
    expect(decode(`{"x": ${'[{"a":'.repeat(depth)}1${'}]'.repeat(depth)}}`)).toEqual({ resourceSpans: [] });
    expect(() => decode(`{"x": ${'['.repeat(depth)}${']'.repeat(depth - 1)}}`)).toThrow('not valid JSON');
  });

  describe('bounds', () => {
    const budget = () => new OtlpBudget({ maxSpans: 3, maxAttributes: 2 });
    const attributes = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: {} }));
    const body = (parts: { spans?: number; attributes?: number; scope?: number; resource?: number }) => ({
      resource: { attributes: attributes(parts.resource ?? 0) },
      scopeSpans: [
        {
          scope: { name: 's', attributes: attributes(parts.scope ?? 0) },
          spans: Array.from({ length: parts.spans ?? 1 }, (_, i) => ({ attributes: attributes(i === 0 ? (parts.attributes ?? 0) : 0) })),
        },
      ],
    });
    const text = (...resources: unknown[]) => JSON.stringify({ resourceSpans: resources });

    it('takes exactly OTLP_MAX_SPANS spans, counted across resources and scopes (elements that are not objects too), and refuses one more', () => {
      expect(decodeJsonTraceExport(text(body({ spans: 2 }), body({ spans: 1 })), budget()).resourceSpans).toHaveLength(2);
      const over = new OtlpLimitExceeded('The export carries more than 3 spans (OTLP_MAX_SPANS); send at most 3 spans per request', 'OTLP_MAX_SPANS', 3);
      expect(() => decodeJsonTraceExport(text(body({ spans: 2 }), body({ spans: 2 })), budget())).toThrow(over);
      expect(() => decodeJsonTraceExport('{"resourceSpans":[{"scopeSpans":[{"spans":[1,2]},{"spans":[null,[]]}]}]}', budget())).toThrow(over);
    });

    it('takes exactly OTLP_MAX_ATTRIBUTES attributes on a span, a scope and a resource, and refuses one more on any of them', () => {
      expect(() => decodeJsonTraceExport(text(body({ attributes: 2, scope: 2, resource: 2 })), budget())).not.toThrow();
      expect(() => decodeJsonTraceExport(text(body({ attributes: 3 })), budget())).toThrow('A span carries more than 2 attributes (OTLP_MAX_ATTRIBUTES)');
      expect(() => decodeJsonTraceExport(text(body({ scope: 3 })), budget())).toThrow('A scope carries more than 2 attributes (OTLP_MAX_ATTRIBUTES)');
      expect(() => decodeJsonTraceExport(text(body({ resource: 3 })), budget())).toThrow('A resource carries more than 2 attributes (OTLP_MAX_ATTRIBUTES)');
    });

    it('counts while decoding: it stops at the first span or attribute past a bound, before the broken text after it', () => {
      expect(() => decodeJsonTraceExport('{"resourceSpans":[{"scopeSpans":[{"spans":[{},{},{},{},!', budget())).toThrow('more than 3 spans');
      expect(() => decodeJsonTraceExport('{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{},{},{},!', budget())).toThrow(
        'A span carries more than 2 attributes',
      );
      expect(() => decodeJsonTraceExport('{"resourceSpans":[{"scopeSpans":[{"spans":[{},!', budget())).toThrow('not valid JSON');
    });
  });
});
