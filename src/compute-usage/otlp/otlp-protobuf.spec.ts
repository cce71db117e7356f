import { decodeTraceExport, encodeTraceResponse } from './otlp-protobuf';

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
    expect(decodeTraceExport(request)).toEqual({
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
    expect(decodeTraceExport(Buffer.alloc(0))).toEqual({ resourceSpans: [] });
    expect(() => decodeTraceExport(Buffer.from([0x0a, 0x05, 0x01]))).toThrow('not a valid OTLP protobuf');
    expect(() => decodeTraceExport(Buffer.from([0x0a, 0xff]))).toThrow('not a valid OTLP protobuf');
  });
});

describe('encodeTraceResponse', () => {
  it('encodes full success as an empty message, and a partial success with its count and message', () => {
    expect(encodeTraceResponse({})).toEqual(Buffer.alloc(0));
    const inner = Buffer.concat([int(1, 300n), str(2, 'no model')]);
    expect(encodeTraceResponse({ rejectedSpans: 300, errorMessage: 'no model' })).toEqual(bytes(1, inner));
  });
});
