import { AppError } from '../../common/errors/app-error';

/**
 * Reads compute usage out of an OTLP/HTTP trace export (ExportTraceServiceRequest in the
 * OTLP JSON encoding: hex trace and span ids, 64-bit integers as numbers or strings). Every
 * span that carries gen_ai.usage.input_tokens or gen_ai.usage.output_tokens is one model
 * call; other spans are not usage and are skipped, not rejected.
 */

/** A model call read from a span; figures are checked later, like any compute event. */
export interface SpanUsage {
  eventId: string;
  /** tokenpool.work_unit of the span, else of its resource: a work unit's externalRef. */
  workUnitRef: string | null;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number | null;
  reasoningOutputTokens: number | null;
  occurredAt: Date;
}

export interface SpanReading {
  usages: SpanUsage[];
  /** Usage spans that cannot become an event, with why. */
  rejected: string[];
}

export const WORK_UNIT_ATTRIBUTE = 'tokenpool.work_unit';

const INPUT_TOKENS = 'gen_ai.usage.input_tokens';
const OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
const CACHED_INPUT_TOKENS = 'gen_ai.usage.cache_read.input_tokens';
const REASONING_OUTPUT_TOKENS = 'gen_ai.usage.reasoning.output_tokens';
const MODELS = ['gen_ai.response.model', 'gen_ai.request.model'];
const PROVIDERS = ['gen_ai.provider.name', 'gen_ai.system'];

/** Every attribute readSpans() looks at: the decoders keep these and drop the rest unread. */
export const READ_ATTRIBUTES: ReadonlySet<string> = new Set([
  WORK_UNIT_ATTRIBUTE,
  INPUT_TOKENS,
  OUTPUT_TOKENS,
  CACHED_INPUT_TOKENS,
  REASONING_OUTPUT_TOKENS,
  ...MODELS,
  ...PROVIDERS,
]);

type AnyValue = { stringValue?: unknown; intValue?: unknown; doubleValue?: unknown; boolValue?: unknown };
/**
 * A trace export as both decoders (otlp-protobuf.ts, otlp-json.ts) hand it over, in the shape
 * of the OTLP JSON encoding: only the fields and attributes read here, each resource's scopes
 * merged into one, resources without spans left out. Values keep the sender's JSON types.
 */
export interface TraceExport {
  resourceSpans: { resource: { attributes: KeyValue[] }; scopeSpans: { spans: Record<string, unknown>[] }[] }[];
}

export interface KeyValue {
  key: unknown;
  value: unknown;
}

/** A span's or resource's attributes as sent: a list of { key, value }, searched in place (a handful per span). */
type Attributes = unknown[];

function attributesOf(list: unknown): Attributes {
  return Array.isArray(list) ? list : [];
}

function valueOf(attrs: Attributes, key: string): AnyValue | undefined {
  for (const kv of attrs as { key?: unknown; value?: unknown }[]) {
    if (kv && kv.key === key && kv.value && typeof kv.value === 'object') return kv.value as AnyValue;
  }
  return undefined;
}

function str(attrs: Attributes, ...keys: string[]): string | null {
  for (const key of keys) {
    const value = valueOf(attrs, key)?.stringValue;
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return null;
}

/** An integer attribute: intValue (number or decimal string) or an integral doubleValue; NaN when malformed. */
function int(attrs: Attributes, key: string): number | null {
  const value = valueOf(attrs, key);
  if (!value) return null;
  if (typeof value.intValue === 'number') return value.intValue;
  if (typeof value.intValue === 'string') return /^-?\d{1,16}$/.test(value.intValue) ? Number(value.intValue) : NaN;
  if (typeof value.doubleValue === 'number') return value.doubleValue;
  return NaN;
}

/** Nanoseconds since the epoch (number or decimal string) as a Date; null when absent or malformed. */
function timeOf(value: unknown): Date | null {
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) return new Date(Number(BigInt(value) / 1_000_000n));
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return new Date(Math.floor(value / 1_000_000));
  return null;
}

const ID = /^[0-9A-Za-z+/=_-]{1,64}$/;

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function readSpans(body: unknown): SpanReading {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw AppError.badInput('body', 'Send an OTLP ExportTraceServiceRequest as a JSON object');
  const resourceSpans = (body as { resourceSpans?: unknown }).resourceSpans;
  if (resourceSpans !== undefined && !Array.isArray(resourceSpans)) throw AppError.badInput('resourceSpans', 'resourceSpans must be an array');
  const reading: SpanReading = { usages: [], rejected: [] };
  for (const rs of listOf(resourceSpans) as { resource?: { attributes?: unknown }; scopeSpans?: unknown; instrumentationLibrarySpans?: unknown }[]) {
    const resource = attributesOf(rs?.resource?.attributes);
    for (const ss of [...listOf(rs?.scopeSpans), ...listOf(rs?.instrumentationLibrarySpans)] as { spans?: unknown }[]) {
      for (const span of listOf(ss?.spans) as Record<string, unknown>[]) {
        const outcome = readSpan(span, resource);
        if (outcome === null) continue;
        if (typeof outcome === 'string') reading.rejected.push(outcome);
        else reading.usages.push(outcome);
      }
    }
  }
  return reading;
}

/** The span's usage, a reason to reject it, or null when it is not a model call. */
function readSpan(span: Record<string, unknown>, resource: Attributes): SpanUsage | string | null {
  const attrs = attributesOf(span?.attributes);
  const inputTokens = int(attrs, INPUT_TOKENS);
  const outputTokens = int(attrs, OUTPUT_TOKENS);
  if (inputTokens === null && outputTokens === null) return null;
  const { traceId, spanId } = span;
  const name = `span ${typeof spanId === 'string' ? spanId : '?'}`;
  if (typeof traceId !== 'string' || typeof spanId !== 'string' || !ID.test(traceId) || !ID.test(spanId)) return `${name}: traceId and spanId are required`;
  const model = str(attrs, ...MODELS);
  if (!model) return `${name}: gen_ai.response.model or gen_ai.request.model is required`;
  const provider = str(attrs, ...PROVIDERS);
  if (!provider) return `${name}: gen_ai.provider.name (or gen_ai.system) is required`;
  const occurredAt = timeOf(span.endTimeUnixNano);
  if (!occurredAt) return `${name}: endTimeUnixNano is required`;
  return {
    eventId: `otlp:${traceId.toLowerCase()}:${spanId.toLowerCase()}`,
    workUnitRef: str(attrs, WORK_UNIT_ATTRIBUTE) ?? str(resource, WORK_UNIT_ATTRIBUTE),
    provider,
    model,
    inputTokens: inputTokens ?? 0,
    outputTokens: outputTokens ?? 0,
    cachedInputTokens: int(attrs, CACHED_INPUT_TOKENS),
    reasoningOutputTokens: int(attrs, REASONING_OUTPUT_TOKENS),
    occurredAt,
  };
}
