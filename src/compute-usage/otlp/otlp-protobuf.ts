import { AppError } from '../../common/errors/app-error';

/**
 * The OTLP protobuf encoding of a trace export, for exporters that speak only protobuf (the
 * Python SDK's HTTP exporter, for one). The official JavaScript packages encode requests
 * but decode none, and the part of opentelemetry/proto/collector/trace/v1 that usage needs
 * is small, so it is decoded here by hand into the same shape as the JSON encoding
 * (hex ids, nanosecond times as decimal strings, int64 values as decimal strings), which
 * readSpans() then reads. Fields not listed below are skipped by wire type.
 *
 *   ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
 *   ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
 *   Resource      { repeated KeyValue attributes = 1; }
 *   ScopeSpans    { repeated Span spans = 2; }
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
    const key = Number(this.varint());
    return { field: key >>> 3, wire: key & 7 };
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

  /** A length-delimited field as a reader over its bytes. */
  sub(): Reader {
    const length = Number(this.varint());
    if (this.pos + length > this.end) throw malformed();
    const reader = new Reader(this.buf, this.pos, this.pos + length);
    this.pos += length;
    return reader;
  }

  string(): string {
    const sub = this.sub();
    return sub.buf.toString('utf8', sub.pos, sub.end);
  }

  hex(): string {
    const sub = this.sub();
    return sub.buf.toString('hex', sub.pos, sub.end);
  }

  skip(wire: number): void {
    if (wire === VARINT) this.varint();
    else if (wire === FIXED64) this.pos += 8;
    else if (wire === LENGTH_DELIMITED) this.sub();
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

function keyValue(reader: Reader): { key: string; value: Record<string, unknown> } {
  const kv = { key: '', value: {} as Record<string, unknown> };
  fields(reader, (field, wire) => {
    if (field === 1 && wire === LENGTH_DELIMITED) kv.key = reader.string();
    else if (field === 2 && wire === LENGTH_DELIMITED) kv.value = anyValue(reader.sub());
    else return false;
    return true;
  });
  return kv;
}

function span(reader: Reader): Record<string, unknown> {
  const result: Record<string, unknown> = { attributes: [] };
  fields(reader, (field, wire) => {
    if (field === 1 && wire === LENGTH_DELIMITED) result.traceId = reader.hex();
    else if (field === 2 && wire === LENGTH_DELIMITED) result.spanId = reader.hex();
    else if (field === 5 && wire === LENGTH_DELIMITED) result.name = reader.string();
    else if (field === 7 && wire === FIXED64) result.startTimeUnixNano = reader.fixed64().toString();
    else if (field === 8 && wire === FIXED64) result.endTimeUnixNano = reader.fixed64().toString();
    else if (field === 9 && wire === LENGTH_DELIMITED) (result.attributes as unknown[]).push(keyValue(reader.sub()));
    else return false;
    return true;
  });
  return result;
}

function attributesOf(reader: Reader): unknown[] {
  const attributes: unknown[] = [];
  fields(reader, (field, wire) => {
    if (field !== 1 || wire !== LENGTH_DELIMITED) return false;
    attributes.push(keyValue(reader.sub()));
    return true;
  });
  return attributes;
}

function spansOf(reader: Reader): unknown[] {
  const spans: unknown[] = [];
  fields(reader, (field, wire) => {
    if (field !== 2 || wire !== LENGTH_DELIMITED) return false;
    spans.push(span(reader.sub()));
    return true;
  });
  return spans;
}

function resourceSpans(reader: Reader): Record<string, unknown> {
  const result = { resource: { attributes: [] as unknown[] }, scopeSpans: [] as unknown[] };
  fields(reader, (field, wire) => {
    if (field === 1 && wire === LENGTH_DELIMITED) result.resource.attributes = attributesOf(reader.sub());
    else if (field === 2 && wire === LENGTH_DELIMITED) result.scopeSpans.push({ spans: spansOf(reader.sub()) });
    else return false;
    return true;
  });
  return result;
}

/** An ExportTraceServiceRequest in protobuf, as the JSON encoding's object. */
export function decodeTraceExport(body: Buffer): { resourceSpans: unknown[] } {
  const reader = new Reader(body);
  const list: unknown[] = [];
  fields(reader, (field, wire) => {
    if (field !== 1 || wire !== LENGTH_DELIMITED) return false;
    list.push(resourceSpans(reader.sub()));
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
