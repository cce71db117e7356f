import { AppError } from '../../common/errors/app-error';
import { OtlpBudget } from './otlp-limits';
import { KeyValue, READ_ATTRIBUTES, TraceExport } from './otlp-spans';

/**
 * The OTLP protobuf encoding of a trace export, for exporters that speak only protobuf (the
 * Python SDK's HTTP exporter, for one). The official JavaScript packages encode requests
 * but decode none, and the part of opentelemetry/proto/collector/trace/v1 that usage needs
 * is small, so it is decoded here by hand into the shape of the JSON encoding (hex ids,
 * nanosecond times as decimal strings, int64 values as decimal strings), which readSpans()
 * then reads. Fields not listed below are skipped by wire type, never decoded: span events
 * and links, scope names, nested attribute values.
 *
 * A hostile body is small on the wire and huge in objects (two bytes make an empty
 * attribute), so the decoder counts spans and attributes against the OTLP bounds as it meets
 * them, and keeps only the attributes readSpans() reads: what it builds stays proportional
 * to the spans it accepts, and it stops at the first span or attribute past a bound.
 *
 *   ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
 *   ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
 *   Resource      { repeated KeyValue attributes = 1; }
 *   ScopeSpans    { InstrumentationScope scope = 1; repeated Span spans = 2; }
 *   InstrumentationScope { repeated KeyValue attributes = 3; } (counted, not kept)
 *   Span          { bytes trace_id = 1; bytes span_id = 2; string name = 5;
 *                   fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
 *                   repeated KeyValue attributes = 9; }
 *   KeyValue      { string key = 1; AnyValue value = 2; }
 *   AnyValue      { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
 *                   double double_value = 4; (arrays, lists and bytes: skipped) }
 */

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

class Reader {
  private pos: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The next field's number and wire type. */
  tag(): { field: number; wire: number } {
    const key = this.uint();
    return { field: Math.floor(key / 8), wire: key % 8 };
  }

  /** A varint read as a double: tags and lengths, which never need 64 bits, without BigInt's cost. */
  uint(): number {
    let result = 0;
    for (let scale = 1; scale < 2 ** 70; scale *= 128) {
      if (this.pos >= this.end) throw malformed();
      const byte = this.buf[this.pos++];
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
    }
    throw malformed();
  }

  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) throw malformed();
      const byte = this.buf[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return result;
    }
    throw malformed();
  }

  fixed64(): bigint {
    if (this.pos + 8 > this.end) throw malformed();
    const value = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return value;
  }

  double(): number {
    if (this.pos + 8 > this.end) throw malformed();
    const value = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return value;
  }

  /** Moves past a length-delimited field and answers where its bytes start. */
  private delimited(): number {
    const length = this.uint();
    if (length > this.end - this.pos) throw malformed();
    this.pos += length;
    return this.pos - length;
  }

  /** A length-delimited field as a reader over its bytes. */
  sub(): Reader {
    const start = this.delimited();
    return new Reader(this.buf, start, this.pos);
  }

  string(): string {
    const start = this.delimited();
    return this.buf.toString('utf8', start, this.pos);
  }

  hex(): string {
    const start = this.delimited();
    return this.buf.toString('hex', start, this.pos);
  }

  skip(wire: number): void {
    if (wire === VARINT) this.uint();
    else if (wire === FIXED64) this.pos += 8;
    else if (wire === LENGTH_DELIMITED) this.delimited();
    else if (wire === FIXED32) this.pos += 4;
    else throw malformed();
    if (this.pos > this.end) throw malformed();
  }
}

function malformed(): AppError {
  return AppError.badInput('body', 'The body is not a valid OTLP protobuf ExportTraceServiceRequest');
}

/** Calls `each` for every field of the message; each returns false to have the field skipped. */
function fields(reader: Reader, each: (field: number, wire: number) => boolean): void {
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (!each(field, wire)) reader.skip(wire);
  }
}

function anyValue(reader: Reader): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  fields(reader, (field, wire) => {
    if (field === 1 && wire === LENGTH_DELIMITED) value.stringValue = reader.string();
    else if (field === 2 && wire === VARINT) value.boolValue = reader.varint() !== 0n;
    else if (field === 3 && wire === VARINT) value.intValue = BigInt.asIntN(64, reader.varint()).toString();
    else if (field === 4 && wire === FIXED64) value.doubleValue = reader.double();
    else return false;
    return true;
  });
  return value;
}

/** The attribute when readSpans() reads its key; null, its value left undecoded, otherwise. */
function keyValue(reader: Reader): KeyValue | null {
  const read: { key: string; value?: Reader } = { key: '' };
  fields(reader, (field, wire) => {
    if (field === 1 && wire === LENGTH_DELIMITED) read.key = reader.string();
    else if (field === 2 && wire === LENGTH_DELIMITED) read.value = reader.sub();
    else return false;
    return true;
  });
  if (!READ_ATTRIBUTES.has(read.key)) return null;
  return { key: read.key, value: read.value ? anyValue(read.value) : {} };
}

/** Reads one attribute of a span or resource into `into`, once the budget allows it. */
function attribute(reader: Reader, into: { attributes: KeyValue[]; count: number }, owner: 'resource' | 'span', budget: OtlpBudget): void {
  into.count += 1;
  budget.attribute(owner, into.count);
  const kv = keyValue(reader.sub());
  if (kv) into.attributes.push(kv);
}

function span(reader: Reader, budget: OtlpBudget): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  const attributes = { attributes: [] as KeyValue[], count: 0 };
  fields(reader, (field, wire) => {
    if (field === 1 && wire === LENGTH_DELIMITED) result.traceId = reader.hex();
    else if (field === 2 && wire === LENGTH_DELIMITED) result.spanId = reader.hex();
    else if (field === 5 && wire === LENGTH_DELIMITED) result.name = reader.string();
    else if (field === 7 && wire === FIXED64) result.startTimeUnixNano = reader.fixed64().toString();
    else if (field === 8 && wire === FIXED64) result.endTimeUnixNano = reader.fixed64().toString();
    else if (field === 9 && wire === LENGTH_DELIMITED) attribute(reader, attributes, 'span', budget);
    else return false;
    return true;
  });
  result.attributes = attributes.attributes;
  return result;
}

/** Counts an InstrumentationScope's attributes; nothing of the scope is kept. */
function scope(reader: Reader, budget: OtlpBudget): void {
  let count = 0;
  fields(reader, (field, wire) => {
    if (field === 3 && wire === LENGTH_DELIMITED) budget.attribute('scope', ++count);
    return false;
  });
}

function scopeSpans(reader: Reader, spans: Record<string, unknown>[], budget: OtlpBudget): void {
  fields(reader, (field, wire) => {
    if (field === 1 && wire === LENGTH_DELIMITED) scope(reader.sub(), budget);
    else if (field === 2 && wire === LENGTH_DELIMITED) {
      budget.span();
      spans.push(span(reader.sub(), budget));
    } else return false;
    return true;
  });
}

function resourceAttributes(reader: Reader, into: { attributes: KeyValue[]; count: number }, budget: OtlpBudget): void {
  fields(reader, (field, wire) => {
    if (field !== 1 || wire !== LENGTH_DELIMITED) return false;
    attribute(reader, into, 'resource', budget);
    return true;
  });
}

/** A ResourceSpans with its scopes merged; a repeated Resource merges too, as protobuf merges messages. */
function resourceSpans(reader: Reader, budget: OtlpBudget): TraceExport['resourceSpans'][number] {
  const resource = { attributes: [] as KeyValue[], count: 0 };
  const spans: Record<string, unknown>[] = [];
  fields(reader, (field, wire) => {
    if (field === 1 && wire === LENGTH_DELIMITED) resourceAttributes(reader.sub(), resource, budget);
    else if (field === 2 && wire === LENGTH_DELIMITED) scopeSpans(reader.sub(), spans, budget);
    else return false;
    return true;
  });
  return { resource: { attributes: resource.attributes }, scopeSpans: [{ spans }] };
}

/** An ExportTraceServiceRequest in protobuf, as the JSON encoding's object, within the budget's bounds. */
export function decodeTraceExport(body: Buffer, budget: OtlpBudget): TraceExport {
  const reader = new Reader(body);
  const list: TraceExport['resourceSpans'] = [];
  fields(reader, (field, wire) => {
    if (field !== 1 || wire !== LENGTH_DELIMITED) return false;
    const decoded = resourceSpans(reader.sub(), budget);
    // An empty ResourceSpans is two bytes on the wire: keep nothing for it.
    if (decoded.scopeSpans[0].spans.length > 0) list.push(decoded);
    return true;
  });
  return { resourceSpans: list };
}

function varintBytes(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

function lengthDelimited(field: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(field << 3) | LENGTH_DELIMITED, ...varintBytes(payload.length)]), payload]);
}

/** ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1 { int64 rejected_spans = 1; string error_message = 2; } } */
export function encodeTraceResponse(partial: { rejectedSpans?: number; errorMessage?: string }): Buffer {
  if (!partial.rejectedSpans && !partial.errorMessage) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  if (partial.rejectedSpans) parts.push(Buffer.from([(1 << 3) | VARINT, ...varintBytes(partial.rejectedSpans)]));
  if (partial.errorMessage) parts.push(lengthDelimited(2, Buffer.from(partial.errorMessage, 'utf8')));
  return lengthDelimited(1, Buffer.concat(parts));
}
