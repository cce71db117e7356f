import { createGzip, gzipSync } from 'node:zlib';

/**
 * OTLP trace exports written by hand, for the bounds tests: the official exporters cover the
 * ordinary shapes, these the hostile ones (thousands of empty attributes, spans or resources).
 * Field numbers as in opentelemetry/proto/collector/trace/v1 (see src/compute-usage/otlp/otlp-protobuf.ts).
 */

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** A length-delimited field (wire type 2). */
export function pbField(field: number, payload: Buffer | string): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

function pbFixed64(field: number, value: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(value);
  return Buffer.concat([varint((field << 3) | 1), bytes]);
}

function pbVarint(field: number, value: number): Buffer {
  return Buffer.concat([varint(field << 3), varint(value)]);
}

/** A KeyValue: a string or an int value. */
export function pbAttribute(key: string, value: string | number): Buffer {
  const any = typeof value === 'number' ? pbVarint(3, value) : pbField(1, value);
  return Buffer.concat([pbField(1, key), pbField(2, any)]);
}

export interface PbSpan {
  traceId: string;
  spanId: string;
  endTimeUnixNano: bigint;
  attributes: Buffer[];
}

export function pbSpan(span: PbSpan): Buffer {
  return Buffer.concat([
    pbField(1, Buffer.from(span.traceId, 'hex')),
    pbField(2, Buffer.from(span.spanId, 'hex')),
    pbField(5, 'chat'),
    pbFixed64(8, span.endTimeUnixNano),
    ...span.attributes.map((a) => pbField(9, a)),
  ]);
}

/** ExportTraceServiceRequest with one resource and one scope; attributes and spans already encoded. */
export function pbExport(parts: { resource?: Buffer[]; scope?: Buffer[]; spans: Buffer[] }): Buffer {
  const resource = pbField(1, Buffer.concat((parts.resource ?? []).map((a) => pbField(1, a))));
  const scope = pbField(1, Buffer.concat([pbField(1, 'e2e'), ...(parts.scope ?? []).map((a) => pbField(3, a))]));
  const scopeSpans = pbField(2, Buffer.concat([scope, ...parts.spans.map((s) => pbField(2, s))]));
  return pbField(1, Buffer.concat([resource, scopeSpans]));
}

const EMPTY_ATTRIBUTE = pbField(9, Buffer.alloc(0));
const EMPTY_SPAN = pbField(2, Buffer.alloc(0));
const EMPTY_RESOURCE_SPANS = pbField(1, Buffer.alloc(0));

function repeat(unit: Buffer, times: number): Buffer {
  return Buffer.alloc(unit.length * times, unit);
}

/**
 * Gzip bombs of about 4 KiB, each inflating to just under 4 MiB (the default
 * OTLP_BODY_LIMIT_BYTES, so the body limit lets them through to the decoder).
 */
export function gzipBombs(): { name: string; body: Buffer; contentType: string }[] {
  const oneSpanOfEmptyAttributes = pbField(1, pbField(2, pbField(2, repeat(EMPTY_ATTRIBUTE, 2_000_000))));
  // 10,000 spans of 128 empty attributes: exactly at the default limits.
  const spansAtTheLimits = pbField(1, pbField(2, repeat(pbField(2, repeat(EMPTY_ATTRIBUTE, 128)), 10_000)));
  const emptySpans = pbField(1, pbField(2, repeat(EMPTY_SPAN, 2_000_000)));
  const emptyResources = repeat(EMPTY_RESOURCE_SPANS, 2_000_000);
  const emptyEvents = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"events":[${'{},'.repeat(1_300_000)}{}]}]}]}]}`;
  const protobuf = 'application/x-protobuf';
  return [
    { name: 'one span of 2,000,000 empty attributes', body: gzipSync(oneSpanOfEmptyAttributes, { level: 9 }), contentType: protobuf },
    { name: '10,000 spans of 128 empty attributes', body: gzipSync(spansAtTheLimits, { level: 9 }), contentType: protobuf },
    { name: '2,000,000 empty spans', body: gzipSync(emptySpans, { level: 9 }), contentType: protobuf },
    { name: '2,000,000 empty resources', body: gzipSync(emptyResources, { level: 9 }), contentType: protobuf },
    { name: 'JSON: a span of 1,300,000 empty events', body: gzipSync(Buffer.from(emptyEvents), { level: 9 }), contentType: 'application/json' },
  ];
}

/** A gzip body that inflates to `mebibytes` MiB of zeros, written chunk by chunk so the test never holds it inflated. */
export async function gzipOfZeros(mebibytes: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => parts.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    gzip.on('end', resolve);
    gzip.on('error', reject);
  });
  const zeros = Buffer.alloc(1_048_576);
  for (let i = 0; i < mebibytes; i++) {
    if (!gzip.write(zeros)) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await done;
  return Buffer.concat(parts);
}
