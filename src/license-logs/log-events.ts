/**
 * License-server logs → usage events: the parsers of FlexNet (FLEXlm) debug logs, RLM report logs and successive
 * `lmutil lmstat -a` snapshots. Pure and streaming: lines in, one ParsedLine out per line, in input order.
 */
import { FlexlmParser } from './flexlm-parser';
import { LmstatParser } from './lmstat-parser';
import { RlmParser } from './rlm-parser';
import { ZoneClock } from './time-zone';

export { UnknownTimeZoneError } from './time-zone';

export type LogFormat = 'flexlm' | 'rlm' | 'lmstat';
export const LOG_FORMATS: readonly LogFormat[] = ['flexlm', 'rlm', 'lmstat'];

/** line: 1-based line number in the input; key: the event's identity (SHA-1 hex, see EventKeys and holdingKey). */
export interface LineInfo {
  line: number;
  key: string;
}

export type LogEvent =
  | ({
      kind: 'OUT';
      at: number;
      vendor: string | null;
      feature: string;
      user: string;
      host: string;
      count: number;
      handle: string | null;
    } & LineInfo)
  | ({
      kind: 'IN';
      at: number;
      vendor: string | null;
      feature: string;
      user: string;
      host: string;
      count: number;
      handle: string | null;
      /** Added: why the license came back, when the log says (FlexNet `(INACTIVE)`, `(SHUTDOWN)`; RLM's `why` code as text). */
      reason: string | null;
    } & LineInfo)
  | ({
      kind: 'DENIED';
      at: number;
      vendor: string | null;
      feature: string;
      user: string;
      host: string;
      count: number;
      reason: string;
    } & LineInfo)
  // The daemon (vendor; null = lmgrd/the whole server) (re)started or stopped: every lease it held ends at `at`.
  | ({
      kind: 'RESTART';
      at: number;
      vendor: string | null;
      /** Added: 'start' for a (re)start line, 'stop' for an exit/shutdown line. Either way the daemon's leases end. */
      phase: 'start' | 'stop';
    } & LineInfo)
  // lmstat: a snapshot starts (its time); the HELD lines that follow belong to it.
  | ({ kind: 'SNAPSHOT'; at: number } & LineInfo)
  // lmstat: one user line of the current snapshot (since = its "start" time).
  | ({
      kind: 'HELD';
      at: number;
      feature: string;
      user: string;
      host: string;
      count: number;
      handle: string | null;
      since: number;
      /** Added: the vendor daemon named in the feature's block (`"f" v1.0, vendor: V`), when shown. */
      vendor: string | null;
    } & LineInfo);

export type LogEventKind = LogEvent['kind'];

/** IANA zone of the log's local times, e.g. 'UTC', 'Europe/Berlin'. */
export interface ParseOptions {
  timeZone: string;
}

/**
 * recognized: the line is a line of this format (an event, or a known non-event line such as a TIMESTAMP, a banner,
 * an SLOG line, a blank line); event null for non-events.
 */
export interface ParsedLine {
  line: number;
  event: LogEvent | null;
  recognized: boolean;
}

/** One parser: fed lines in order, it appends the ParsedLines they complete to `out` (it may hold a few back). */
export interface LineParser {
  feed(text: string, out: ParsedLine[]): void;
  end(out: ParsedLine[]): void;
}

/** A fresh parser for one input. Throws UnknownTimeZoneError for a zone this runtime does not know. */
export function createParser(format: LogFormat, options: ParseOptions): LineParser {
  const clock = new ZoneClock(options.timeZone);
  switch (format) {
    case 'flexlm':
      return new FlexlmParser(clock);
    case 'rlm':
      return new RlmParser(clock);
    case 'lmstat':
      return new LmstatParser(clock);
    default:
      throw new Error(`Unknown log format "${String(format)}": one of ${LOG_FORMATS.join(', ')}`);
  }
}

/** Synchronous form, for arrays and generated logs: one ParsedLine per input line, in order. */
export function* parseLines(format: LogFormat, lines: Iterable<string>, options: ParseOptions): Generator<ParsedLine> {
  const parser = createParser(format, options);
  const out: ParsedLine[] = [];
  for (const text of lines) {
    parser.feed(text, out);
    if (out.length > 0) {
      yield* out;
      out.length = 0;
    }
  }
  parser.end(out);
  yield* out;
}

/**
 * Streams a log: one ParsedLine per input line, in input order. Lines are the input's lines without their
 * terminators (a trailing CR is tolerated). Throws UnknownTimeZoneError at the call (not at the first next()) for a
 * zone this runtime does not know.
 */
export function parseLog(format: LogFormat, lines: AsyncIterable<string> | Iterable<string>, options: ParseOptions): AsyncGenerator<ParsedLine> {
  const parser = createParser(format, options);
  return run(parser, lines);
}

async function* run(parser: LineParser, lines: AsyncIterable<string> | Iterable<string>): AsyncGenerator<ParsedLine> {
  const out: ParsedLine[] = [];
  for await (const text of lines) {
    parser.feed(text, out);
    if (out.length > 0) {
      for (let i = 0; i < out.length; i++) yield out[i];
      out.length = 0;
    }
  }
  parser.end(out);
  for (let i = 0; i < out.length; i++) yield out[i];
}
