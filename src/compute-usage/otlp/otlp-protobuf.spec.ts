import { OtlpBudget, OtlpLimitExceeded } from './otlp-limits';
import { decodeTraceExport, encodeTraceResponse } from './otlp-protobuf';

const roomy = () => new OtlpBudget({ maxSpans: 100, maxAttributes: 100 });

// A tiny protobuf writer for the test's messages (the real exporter is exercised end to end in test/otlp.e2e-spec.ts).
const varint = (value: bigint): number[] => {
  const out: number[] = [];
  let rest = BigInt.asUintN(64, value);
  while (rest >= 0x80n) {
    out.push(Number(rest & 0x7fn) | 0x80);
    rest >>= 7n;
  }
  out.push(Number(rest));
  return out;
};
const tag = (field: number, wire: number) => varint(BigInt((field << 3) | wire));
const bytes = (field: number, payload: Buffer) => Buffer.from([...tag(field, 2), ...varint(BigInt(payload.length)), ...payload]);
const str = (field: number, text: string) => bytes(field, Buffer.from(text, 'utf8'));
const int = (field: number, value: bigint) => Buffer.from([...tag(field, 0), ...varint(value)]);
const fixed64 = (field: number, value: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(value);
  return Buffer.concat([Buffer.from(tag(field, 1)), b]);
};
const kv = (key: string, value: Buffer) => bytes(9, Buffer.concat([str(1, key), bytes(2, value)]));

describe('decodeTraceExport', () => {
  it('reads ids as hex, times as decimal strings, int64 (negative ones too) and strings, and skips unknown fields', () => {
    const span = Buffer.concat([
      bytes(1, Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex')),
      bytes(2, Buffer.from('a1a2a3a4a5a6a7a8', 'hex')),
      str(3, 'trace-state, skipped'),
      int(6, 3n),
      fixed64(8, 1_781_524_800_123_456_789n),
      kv('gen_ai.usage.input_tokens', int(3, 120n)),
      kv('gen_ai.usage.output_tokens', int(3, -5n)),
      kv('gen_ai.request.model', str(1, 'gpt-4.1')),
      bytes(12, Buffer.from([0x08, 0x01])),
    ]);
    const resource = bytes(1, Buffer.concat([str(1, 'tokenpool.work_unit'), bytes(2, str(1, 'run-7'))]));
    const request = bytes(1, Buffer.concat([bytes(1, resource), bytes(2, bytes(2, span)), str(3, 'https://schema')]));
    expect(decodeTraceExport(request, roomy())).toEqual({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'tokenpool.work_unit', value: { stringValue: 'run-7' } }] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId: '0102030405060708090a0b0c0d0e0f10',
                  spanId: 'a1a2a3a4a5a6a7a8',
                  endTimeUnixNano: '1781524800123456789',
                  attributes: [
                    { key: 'gen_ai.usage.input_tokens', value: { intValue: '120' } },
                    { key: 'gen_ai.usage.output_tokens', value: { intValue: '-5' } },
                    { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4.1' } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
  });

  it('reads an empty body as an empty export, and refuses truncated messages', () => {
    expect(decodeTraceExport(Buffer.alloc(0), roomy())).toEqual({ resourceSpans: [] });
    expect(() => decodeTraceExport(Buffer.from([0x0a, 0x05, 0x01]), roomy())).toThrow('not a valid OTLP protobuf');
    expect(() => decodeTraceExport(Buffer.from([0x0a, 0xff]), roomy())).toThrow('not a valid OTLP protobuf');
  });

  it('keeps only the attributes readSpans reads, and leaves events, links and unread values undecoded', () => {
    const garbage = Buffer.from([0xff, 0xff, 0xff]);
    const span = Buffer.concat([kv('http.url', garbage), kv('gen_ai.request.model', str(1, 'm')), bytes(11, garbage), bytes(13, garbage)]);
    const request = bytes(1, bytes(2, Buffer.concat([bytes(1, str(1, 'scope name')), bytes(2, span)])));
    expect(decodeTraceExport(request, roomy())).toEqual({
      resourceSpans: [
        { resource: { attributes: [] }, scopeSpans: [{ spans: [{ attributes: [{ key: 'gen_ai.request.model', value: { stringValue: 'm' } }] }] }] },
      ],
    });
  });

  it('merges a resource’s scopes and leaves out resources without spans', () => {
    const emptyResources = Buffer.alloc(2_000, bytes(1, Buffer.alloc(0)));
    const twoScopes = bytes(1, Buffer.concat([bytes(2, bytes(2, str(5, 'a'))), bytes(2, Buffer.alloc(0)), bytes(2, bytes(2, str(5, 'b')))]));
    expect(decodeTraceExport(Buffer.concat([emptyResources, twoScopes]), roomy())).toEqual({
      resourceSpans: [
        {
          resource: { attributes: [] },
          scopeSpans: [
            {
              spans: [
                { name: 'a', attributes: [] },
                { name: 'b', attributes: [] },
              ],
            },
          ],
        },
      ],
    });
  });

  describe('bounds', () => {
    const budget = () => new OtlpBudget({ maxSpans: 3, maxAttributes: 2 });
    const emptySpans = (n: number) => Array.from({ length: n }, () => bytes(2, Buffer.alloc(0)));
    const emptyAttributes = (field: number, n: number) => Array.from({ length: n }, () => bytes(field, Buffer.alloc(0)));
    const resource = (parts: { attributes?: number; scopeAttributes?: number; spanAttributes?: number; spans?: number }) =>
      bytes(
        1,
        Buffer.concat([
          bytes(1, Buffer.concat(emptyAttributes(1, parts.attributes ?? 0))),
          bytes(
            2,
            Buffer.concat([
              bytes(1, Buffer.concat(emptyAttributes(3, parts.scopeAttributes ?? 0))),
              bytes(2, Buffer.concat(emptyAttributes(9, parts.spanAttributes ?? 0))),
              ...emptySpans((parts.spans ?? 1) - 1),
            ]),
          ),
        ]),
      );

    it('takes exactly OTLP_MAX_SPANS spans, counted across resources and scopes, and refuses one more', () => {
      expect(decodeTraceExport(Buffer.concat([resource({ spans: 2 }), resource({ spans: 1 })]), budget()).resourceSpans).toHaveLength(2);
      expect(() => decodeTraceExport(Buffer.concat([resource({ spans: 2 }), resource({ spans: 2 })]), budget())).toThrow(
        new OtlpLimitExceeded('The export carries more than 3 spans (OTLP_MAX_SPANS); send at most 3 spans per request', 'OTLP_MAX_SPANS', 3),
      );
    });

    it('takes exactly OTLP_MAX_ATTRIBUTES attributes on a span, a scope and a resource, and refuses one more on any of them', () => {
      expect(() => decodeTraceExport(resource({ attributes: 2, scopeAttributes: 2, spanAttributes: 2 }), budget())).not.toThrow();
      expect(() => decodeTraceExport(resource({ spanAttributes: 3 }), budget())).toThrow('A span carries more than 2 attributes (OTLP_MAX_ATTRIBUTES)');
      expect(() => decodeTraceExport(resource({ scopeAttributes: 3 }), budget())).toThrow('A scope carries more than 2 attributes (OTLP_MAX_ATTRIBUTES)');
      expect(() => decodeTraceExport(resource({ attributes: 3 }), budget())).toThrow('A resource carries more than 2 attributes (OTLP_MAX_ATTRIBUTES)');
    });

    it('counts while decoding: it stops at the first span or attribute past a bound, before the malformed bytes after it', () => {
      const badTag = Buffer.from([0x0f]);
      const spansThenGarbage = bytes(1, bytes(2, Buffer.concat([...emptySpans(4), badTag])));
      expect(() => decodeTraceExport(spansThenGarbage, budget())).toThrow('more than 3 spans');
      const attributesThenGarbage = bytes(1, bytes(2, bytes(2, Buffer.concat([...emptyAttributes(9, 3), badTag]))));
      expect(() => decodeTraceExport(attributesThenGarbage, budget())).toThrow('A span carries more than 2 attributes');
      expect(() => decodeTraceExport(bytes(1, bytes(2, bytes(2, badTag))), budget())).toThrow('not a valid OTLP protobuf');
    });
  });
});

describe('encodeTraceResponse', () => {
  it('encodes full success as an empty message, and a partial success with its count and message', () => {
    expect(encodeTraceResponse({})).toEqual(Buffer.alloc(0));
    const inner = Buffer.concat([int(1, 300n), str(2, 'no model')]);
    expect(encodeTraceResponse({ rejectedSpans: 300, errorMessage: 'no model' })).toEqual(bytes(1, inner));
  });
});
