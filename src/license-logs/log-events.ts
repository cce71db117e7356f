/**
 * License-server logs → usage events: the parsers of FlexNet (FLEXlm) debug logs, RLM report logs and successive
 * `lmutil lmstat -a` snapshots. Pure and streaming: lines in, one ParsedLine out per line, in input order.
 */
import { FlexlmParser } from './flexlm-parser';
import { LmstatParser } from './lmstat-parser';
import { RlmParser } from './rlm-parser';
import type { LineParser, LogFormat, ParsedLine, ParseOptions } from './log-types';
import { ZoneClock } from './time-zone';

export { UnknownTimeZoneError } from './time-zone';

export type { LineInfo, LineParser, LogEvent, LogEventKind, LogFormat, ParsedLine, ParseOptions } from './log-types';
export const LOG_FORMATS: readonly LogFormat[] = ['flexlm', 'rlm', 'lmstat'];

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
