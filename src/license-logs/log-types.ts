/** The types of the license-log parsers: what a line becomes (log-events.ts runs the parsers). */
export type LogFormat = 'flexlm' | 'rlm' | 'lmstat';

/** line: 1-based line number in the input; key: the event's identity (SHA-1 hex, see EventKeys and holdingKey). */
export interface LineInfo {
  line: number;
  key: string;
}

/** Who used how many of which feature, and when: what every checkout, check-in, denial and holding names. */
export interface LicenseUse {
  at: number;
  vendor: string | null;
  feature: string;
  user: string;
  host: string;
  count: number;
}

export type LogEvent =
  | ({ kind: 'OUT'; handle: string | null } & LicenseUse & LineInfo)
  | ({
      kind: 'IN';
      handle: string | null;
      /** Added: why the license came back, when the log says (FlexNet `(INACTIVE)`, `(SHUTDOWN)`; RLM's `why` code as text). */
      reason: string | null;
    } & LicenseUse &
      LineInfo)
  | ({ kind: 'DENIED'; reason: string } & LicenseUse & LineInfo)
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
  // lmstat: one user line of the current snapshot (since = its "start" time; vendor = the
  // daemon named in the feature's block, `"f" v1.0, vendor: V`, when shown).
  | ({ kind: 'HELD'; handle: string | null; since: number } & LicenseUse & LineInfo);

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
