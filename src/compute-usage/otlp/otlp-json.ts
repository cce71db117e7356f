import { AppError } from '../../common/errors/app-error';
import { AttributeOwner, OtlpBudget } from './otlp-limits';
import { KeyValue, READ_ATTRIBUTES, TraceExport } from './otlp-spans';

/**
 * The OTLP JSON encoding of a trace export, read the way otlp-protobuf.ts reads the binary
 * one: a single pass over the text that builds only what readSpans() reads (ids, end time,
 * the usage attributes) and counts spans and attributes against the OTLP bounds as it meets
 * them. JSON.parse would first build every object of the body, and three bytes make one
 * (`{},`): here everything else (span events and links, names, nested values, unknown
 * fields) is checked to be JSON and skipped without being built, iteratively, so no nesting
 * depth can exhaust the stack. Values keep their JSON types (readSpans checks them), and a
 * repeated key counts each time but is read as JSON.parse reads it, the last one winning.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;
const SIMPLE_ESCAPES = new Set([...'"\\/bfnrt'].map((c) => c.charCodeAt(0)));
const LITERALS: [string, unknown][] = [
  ['true', true],
  ['false', false],
  ['null', null],
];
const ANY_VALUE_SCALARS = new Set(['stringValue', 'intValue', 'doubleValue', 'boolValue']);

function notJson(position: number): AppError {
  return new AppError('BAD_REQUEST', `The body is not valid JSON (at character ${position})`);
}

class JsonText {
  private pos = 0;

  constructor(private readonly text: string) {}

  /** The next significant character's code, NaN at the end. */
  peek(): number {
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return c;
      this.pos++;
    }
  }

  end(): void {
    if (!Number.isNaN(this.peek())) throw notJson(this.pos);
  }

  /** An object's members: `each` is called with the position at the member's value, and reads or skips it. */
  members(each: (key: string) => void): void {
    this.expect(OPEN_OBJECT);
    if (this.peek() === CLOSE_OBJECT) {
      this.pos++;
      return;
    }
    do {
      const key = this.string();
      this.expect(COLON);
      each(key);
    } while (this.next(CLOSE_OBJECT));
  }

  /** An array's elements: `each` reads or skips one. */
  elements(each: () => void): void {
    this.expect(OPEN_ARRAY);
    if (this.peek() === CLOSE_ARRAY) {
      this.pos++;
      return;
    }
    do each();
    while (this.next(CLOSE_ARRAY));
  }

  /**
   * A value where a scalar is expected, as JSON.parse reads it. An object or an array there
   * is skipped and read as an empty one, which readSpans() judges as it would the original.
   */
  scalar(): unknown {
    const c = this.peek();
    if (c === QUOTE) return this.string();
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      this.skip();
      return c === OPEN_OBJECT ? {} : [];
    }
    return this.literal();
  }

  /** Moves past any value without building it; nesting is tracked in a byte stack, not by recursion. */
  skip(): void {
    let closers = new Uint8Array(16);
    let depth = 0;
    for (;;) {
      const c = this.peek();
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        this.pos++;
        const close = c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY;
        if (this.peek() === close) this.pos++;
        else {
          if (depth === closers.length) closers = grown(closers);
          closers[depth++] = close;
          if (close === CLOSE_OBJECT) this.key();
          continue;
        }
      } else if (c === QUOTE) this.skipString();
      else this.literal();
      // A value ended: close the containers that end with it, then go on to the next member.
      for (;;) {
        if (depth === 0) return;
        const close = closers[depth - 1];
        if (!this.next(close)) {
          depth--;
          continue;
        }
        if (close === CLOSE_OBJECT) this.key();
        break;
      }
    }
  }

  string(): string {
    if (this.peek() !== QUOTE) throw notJson(this.pos);
    const start = this.pos;
    const escaped = this.skipString();
    return escaped ? (JSON.parse(this.text.slice(start, this.pos)) as string) : this.text.slice(start + 1, this.pos - 1);
  }

  private expect(code: number): void {
    if (this.peek() !== code) throw notJson(this.pos);
    this.pos++;
  }

  /** Past the comma or the closing character after an element: true when another one follows. */
  private next(close: number): boolean {
    const c = this.peek();
    if (c !== COMMA && c !== close) throw notJson(this.pos);
    this.pos++;
    return c === COMMA;
  }

  private key(): void {
    if (this.peek() !== QUOTE) throw notJson(this.pos);
    this.skipString();
    this.expect(COLON);
  }

  /** Moves past the string that starts at pos; true when it holds escapes. */
  private skipString(): boolean {
    let escaped = false;
    this.pos++;
    for (;;) {
      const c = this.text.charCodeAt(this.pos++);
      if (c === QUOTE) return escaped;
      if (c === BACKSLASH) {
        escaped = true;
        this.escape();
      } else if (!(c >= 0x20)) throw notJson(this.pos - 1); // a control character, or the end of the text (NaN)
    }
  }

  private escape(): void {
    const c = this.text.charCodeAt(this.pos++);
    if (SIMPLE_ESCAPES.has(c)) return;
    HEX4.lastIndex = this.pos;
    if (c !== 0x75 || !HEX4.test(this.text)) throw notJson(this.pos - 1);
    this.pos += 4;
  }

  private literal(): unknown {
    for (const [word, value] of LITERALS) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) throw notJson(this.pos);
    this.pos += match[0].length;
    return Number(match[0]);
  }
}

function grown(stack: Uint8Array): Uint8Array {
  const bigger = new Uint8Array(stack.length * 2);
  bigger.set(stack);
  return bigger;
}

/** A list of attributes: each counted against the owner's bound, kept only when readSpans() reads its key. */
function attributes(json: JsonText, owner: AttributeOwner, budget: OtlpBudget): KeyValue[] {
  const kept: KeyValue[] = [];
  if (json.peek() !== OPEN_ARRAY) {
    json.skip();
    return kept;
  }
  let count = 0;
  json.elements(() => {
    budget.attribute(owner, ++count);
    const kv = keyValue(json);
    if (kv) kept.push(kv);
  });
  return kept;
}

function keyValue(json: JsonText): KeyValue | null {
  if (json.peek() !== OPEN_OBJECT) {
    json.skip();
    return null;
  }
  const kv: KeyValue = { key: undefined, value: undefined };
  json.members((key) => {
    if (key === 'key') kv.key = json.scalar();
    else if (key === 'value') kv.value = json.peek() === OPEN_OBJECT ? anyValue(json) : json.scalar();
    else json.skip();
  });
  return typeof kv.key === 'string' && READ_ATTRIBUTES.has(kv.key) ? kv : null;
}

function anyValue(json: JsonText): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  json.members((key) => {
    if (ANY_VALUE_SCALARS.has(key)) value[key] = json.scalar();
    else json.skip();
  });
  return value;
}

/** The `attributes` of an object (a resource or a scope), its other members skipped. */
function attributesOf(json: JsonText, owner: AttributeOwner, budget: OtlpBudget): KeyValue[] {
  let kept: KeyValue[] = [];
  if (json.peek() !== OPEN_OBJECT) {
    json.skip();
    return kept;
  }
  json.members((key) => {
    if (key === 'attributes') kept = attributes(json, owner, budget);
    else json.skip();
  });
  return kept;
}

/** A span, or null for an element that is not an object (readSpans() would skip it). Counted either way. */
function span(json: JsonText, budget: OtlpBudget): Record<string, unknown> | null {
  budget.span();
  if (json.peek() !== OPEN_OBJECT) {
    json.skip();
    return null;
  }
  const result: Record<string, unknown> = { attributes: [] };
  json.members((key) => {
    if (key === 'traceId' || key === 'spanId' || key === 'endTimeUnixNano') result[key] = json.scalar();
    else if (key === 'attributes') result.attributes = attributes(json, 'span', budget);
    else json.skip();
  });
  return result;
}

function spans(json: JsonText, budget: OtlpBudget): Record<string, unknown>[] {
  const list: Record<string, unknown>[] = [];
  if (json.peek() !== OPEN_ARRAY) {
    json.skip();
    return list;
  }
  json.elements(() => {
    const read = span(json, budget);
    if (read) list.push(read);
  });
  return list;
}

/** The spans of a scopeSpans (or the older instrumentationLibrarySpans) list, its scopes' attributes counted. */
function scopeSpans(json: JsonText, budget: OtlpBudget): Record<string, unknown>[] {
  const all: Record<string, unknown>[] = [];
  if (json.peek() !== OPEN_ARRAY) {
    json.skip();
    return all;
  }
  json.elements(() => {
    if (json.peek() !== OPEN_OBJECT) return json.skip();
    let read: Record<string, unknown>[] = [];
    json.members((key) => {
      if (key === 'scope') attributesOf(json, 'scope', budget);
      else if (key === 'spans') read = spans(json, budget);
      else json.skip();
    });
    for (const s of read) all.push(s);
  });
  return all;
}

function resourceSpans(json: JsonText, budget: OtlpBudget): TraceExport['resourceSpans'][number] | null {
  if (json.peek() !== OPEN_OBJECT) {
    json.skip();
    return null;
  }
  const read = { resource: [] as KeyValue[], scopeSpans: [] as Record<string, unknown>[], instrumentationLibrarySpans: [] as Record<string, unknown>[] };
  json.members((key) => {
    if (key === 'resource') read.resource = attributesOf(json, 'resource', budget);
    else if (key === 'scopeSpans' || key === 'instrumentationLibrarySpans') read[key] = scopeSpans(json, budget);
    else json.skip();
  });
  const all = [...read.scopeSpans, ...read.instrumentationLibrarySpans];
  return all.length > 0 ? { resource: { attributes: read.resource }, scopeSpans: [{ spans: all }] } : null;
}

/** An ExportTraceServiceRequest in the OTLP JSON encoding, within the budget's bounds. */
export function decodeJsonTraceExport(text: string, budget: OtlpBudget): TraceExport {
  const json = new JsonText(text);
  if (json.peek() !== OPEN_OBJECT) {
    json.skip();
    json.end();
    throw AppError.badInput('body', 'Send an OTLP ExportTraceServiceRequest as a JSON object');
  }
  const read = { list: [] as TraceExport['resourceSpans'], isArray: true };
  json.members((key) => {
    if (key !== 'resourceSpans') return json.skip();
    read.list = [];
    read.isArray = json.peek() === OPEN_ARRAY;
    if (!read.isArray) return json.skip();
    json.elements(() => {
      const decoded = resourceSpans(json, budget);
      if (decoded) read.list.push(decoded);
    });
  });
  json.end();
  if (!read.isArray) throw AppError.badInput('resourceSpans', 'resourceSpans must be an array');
  return { resourceSpans: read.list };
}
