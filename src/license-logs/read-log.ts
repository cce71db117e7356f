import { isUtf8 } from 'node:buffer';
import { AppError } from '../common/errors/app-error';
import { createParser, LogFormat, ParsedLine, UnknownTimeZoneError } from './log-events';
import { UsageCollector } from './usage-collector';

/** A body that is not one of the format's in its first this many non-blank lines is refused. */
const RECOGNITION_WINDOW = 100;
/** The longest line a log may have. */
const MAX_LINE_BYTES = 1024 * 1024;
/** The most lines one import may hold: its leases are held in memory until the body is read (a 1,000,000-line log, some 470,000 leases). */
export const MAX_IMPORT_LINES = 5_000_000;

/** A log read to its end: its lines, those that were no event, and what they became. */
export interface ReadLog {
  lines: number;
  skipped: number;
  collector: UsageCollector;
}

/**
 * Reads the body into the collector: split into lines at the byte level, each checked to be
 * UTF-8 text without NUL, then parsed. Refuses (BAD_USER_INPUT with `line`) a body that is not
 * text, or whose first RECOGNITION_WINDOW non-blank lines hold no line of the format.
 */
export async function readLog(format: LogFormat, timeZone: string, body: AsyncIterable<Buffer>): Promise<ReadLog> {
  let parser;
  try {
    parser = createParser(format, { timeZone });
  } catch (err) {
    if (err instanceof UnknownTimeZoneError)
      throw AppError.badInput('tz', `Unknown time zone "${timeZone.slice(0, 64)}": use an IANA zone such as Europe/Berlin or UTC`);
    throw err;
  }
  const collector = new UsageCollector();
  const out: ParsedLine[] = [];
  const window: number[] = [];
  let windowRecognized = false;
  let lines = 0;
  let blanks = 0;
  let withoutEvent = 0;
  // The first RECOGNITION_WINDOW non-blank lines (window) are the ones checked for the format.
  const inWindow = new Set<number>();
  const drain = () => {
    for (const parsed of out) {
      if (parsed.event) collector.add(parsed.event);
      else withoutEvent += 1;
      if (!windowRecognized && parsed.recognized && inWindow.has(parsed.line)) windowRecognized = true;
    }
    out.length = 0;
  };
  const line = (raw: string) => {
    lines += 1;
    if (lines > MAX_IMPORT_LINES) throw badLine(`An import may hold at most ${MAX_IMPORT_LINES} lines; split the log`, lines);
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    // Blank lines are neither events nor skipped; the parser still sees them (RLM and lmstat blocks end at them).
    if (text.trim() === '') blanks += 1;
    else if (window.length < RECOGNITION_WINDOW) {
      window.push(lines);
      inWindow.add(lines);
    }
    parser.feed(text, out);
    if (out.length > 0) drain();
  };
  // Whole lines at a time: the bytes up to a chunk's last newline are checked as text at once
  // (only a refused body is searched for its first bad line), then split.
  const text = (bytes: Buffer): string => {
    if (bytes.indexOf(0) < 0 && isUtf8(bytes)) return bytes.toString('utf8');
    let start = 0;
    for (let n = lines + 1; ; n++) {
      const nl = bytes.indexOf(10, start);
      const one = bytes.subarray(start, nl < 0 ? bytes.length : nl);
      if (one.indexOf(0) >= 0 || !isUtf8(one)) {
        throw badLine(`Line ${n} is not text (invalid UTF-8 or a NUL byte): send the log as it is, uncompressed or gzip`, n);
      }
      start = nl + 1;
    }
  };
  let carry: Buffer | null = null;
  for await (const chunk of body) {
    const buffer: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    const last = buffer.lastIndexOf(10);
    if (last < 0) {
      if (buffer.length > MAX_LINE_BYTES) throw badLine(`Line ${lines + 1} is longer than ${MAX_LINE_BYTES} bytes: is this a log?`, lines + 1);
      carry = buffer;
      continue;
    }
    for (const one of text(buffer.subarray(0, last)).split('\n')) line(one);
    carry = last + 1 < buffer.length ? buffer.subarray(last + 1) : null;
  }
  if (carry && carry.length > 0) line(text(carry));
  parser.end(out);
  drain();
  if (window.length === 0) throw badLine('The log is empty', 1);
  if (!windowRecognized) {
    throw badLine(
      `Line ${window[0]} and the ${window.length - 1} non-blank lines after it hold no line of a ${format} log: is this the right format (flexlm, rlm or lmstat)?`,
      window[0],
    );
  }
  collector.finish();
  return { lines, skipped: withoutEvent - blanks, collector };
}

/** A refused body: BAD_USER_INPUT naming the first offending line. */
function badLine(message: string, line: number): AppError {
  return new AppError('BAD_USER_INPUT', message, { field: 'body', line });
}
