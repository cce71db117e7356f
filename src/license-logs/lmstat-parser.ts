/**
 * `lmutil lmstat -a` output, usually many successive snapshots appended by a cron job. Each snapshot starts with
 * `Flexible License Manager status on Wed 7/17/2019 10:55` (its time, and the year the user lines lack); under
 * `Users of FEATURE:  (Total of N licenses issued;  Total of M licenses in use)` each holding is one line
 * `    user host display (v1.0) (server/port handle), start Wed 7/17 10:55[, n licenses][  (linger: …)][, PID: …]`.
 *
 * A snapshot whose query failed (`Error getting status: …`, or no `Feature usage info:` before the next snapshot or
 * the end) is not a snapshot: its header comes back as a recognized non-event, so leases run on to the next good one.
 */
import type { LineParser, LogEvent, ParsedLine } from './log-types';
import { EventKeys, holdingKey, trimEnd } from './event-key';
import type { ZoneClock } from './time-zone';

const HEADER = /^Flexible License Manager status on (?:[A-Z][a-z]{2} )?(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2})/;
const USERS_OF = /^Users of (.+?):\s+\((?:Total of|Uncounted|Error)/;
const FEATURE_BLOCK = /^\s*"([^"]+)" v\S*,\s*vendor:\s*([^,\s]+)/;
const USER_LINE = /^\s+(\S.*?) \(v[^)]*\) \(([^)]*)\), start [A-Z][a-z]{2} (\d{1,2})\/(\d{1,2}) (\d{1,2}):(\d{2})(.*)$/;
const USER_COUNT = /^,\s*(\d+) licenses?/;
const KNOWN: readonly RegExp[] = [
  /^lm(?:util|stat) - Copyright/,
  /^lmstat(?: v|$)/,
  /^\[Detecting lmgrd processes/,
  /^License server status:/,
  /^\s+License file\(s\) on /,
  /: license server (?:UP|DOWN)/,
  /^Vendor daemon status/,
  /^\s+\S+: (?:UP|DOWN|The desired vendor daemon is down)/,
  /^Feature usage info:/,
  /^\s*(?:floating|uncounted nodelocked|nodelocked|counted|uncounted)\b.*license/,
  /^\s*\d+ RESERVATIONs? for /,
  /\) queued for \d+ licenses?$/,
  /^\s+vendor_string:/,
  /^Error getting status:/,
  /^License server machine is down or not responding/,
  /^(?:See the system administrator|make sure you're referring|The license server manager \(lmgrd\))/,
  /^Cannot (?:connect|find|read)/,
  /: Cannot connect to license server/,
  /^\s*(?:NOTE: lmstat|but only reads the license file|lmstat -a is recommended)/,
  /^\s*(?:Feature|_{3,})\s/,
  /^\s*(?:ERROR|Error):/,
];

interface Snapshot {
  y: number;
  m: number;
  d: number;
  at: number;
}

export class LmstatParser implements LineParser {
  private lineNo = 0;
  private snapshot: Snapshot | null = null;
  /** A header waiting to learn whether its query worked, with the lines after it. */
  private held: { line: number; text: string; snap: Snapshot; lines: ParsedLine[] } | null = null;
  private feature: string | null = null;
  private vendor: string | null = null;
  private readonly keys = new EventKeys();

  constructor(private readonly clock: ZoneClock) {}

  feed(raw: string, out: ParsedLine[]): void {
    const line = ++this.lineNo;
    let text = trimEnd(raw);
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const parsed = this.parse(line, text, out);
    if (parsed === null) return;
    if (this.held !== null) {
      this.held.lines.push(parsed);
      if (this.held.lines.length > 10_000) this.decide(true, out);
    } else out.push(parsed);
  }

  end(out: ParsedLine[]): void {
    if (this.held !== null) this.decide(false, out);
  }

  private parse(line: number, text: string, out: ParsedLine[]): ParsedLine | null {
    if (text.length === 0) return { line, event: null, recognized: true };
    const h = HEADER.exec(text);
    if (h) {
      if (this.held !== null) this.decide(false, out);
      const y = +h[3],
        m = +h[1],
        d = +h[2];
      const snap: Snapshot = { y, m, d, at: this.clock.toUtc(y, m, d, +h[4], +h[5], 0, this.snapshot?.at) };
      this.held = { line, text, snap, lines: [] };
      this.snapshot = null;
      this.feature = null;
      this.vendor = null;
      return null;
    }
    const u = USERS_OF.exec(text);
    if (u) {
      if (this.held !== null) this.decide(true, out);
      this.feature = u[1];
      this.vendor = null;
      return { line, event: null, recognized: true };
    }
    if (text.startsWith('Feature usage info:')) {
      if (this.held !== null) this.decide(true, out);
      return { line, event: null, recognized: true };
    }
    if (text.startsWith('Error getting status') && this.held !== null) {
      this.held.lines.push({ line, event: null, recognized: true });
      this.decide(false, out);
      return null;
    }
    const f = FEATURE_BLOCK.exec(text);
    if (f) {
      this.vendor = f[2];
      return { line, event: null, recognized: true };
    }
    const w = USER_LINE.exec(text);
    if (w) {
      const snap = this.snapshot;
      if (snap === null || this.feature === null) return { line, event: null, recognized: true };
      const tokens = w[1].split(/\s+/);
      let user: string, host: string;
      if (tokens.length >= 3) {
        user = tokens.slice(0, tokens.length - 2).join(' ');
        host = tokens[tokens.length - 2];
      } else if (tokens.length === 2) {
        user = tokens[0];
        host = tokens[1];
      } else {
        user = tokens[0];
        host = '';
      }
      const handle = w[2].trim() || null;
      const sm = +w[3],
        sd = +w[4];
      // The start line has no year: the snapshot's, or the year before when the date lies after the snapshot's.
      const sy = sm > snap.m || (sm === snap.m && sd > snap.d) ? snap.y - 1 : snap.y;
      const since = this.clock.toUtc(sy, sm, sd, +w[5], +w[6], 0);
      const c = USER_COUNT.exec(w[7]);
      const count = c ? +c[1] : 1;
      const event: LogEvent = {
        kind: 'HELD',
        at: snap.at,
        feature: this.feature,
        user,
        host,
        count,
        handle,
        since,
        vendor: this.vendor,
        line,
        key: holdingKey(this.feature, user, host, handle, since),
      };
      return { line, event, recognized: true };
    }
    for (const re of KNOWN) if (re.test(text)) return { line, event: null, recognized: true };
    return { line, event: null, recognized: false };
  }

  /** The held header's query worked (ok) or not: emit the header as SNAPSHOT or as a plain line, then what followed it. */
  private decide(ok: boolean, out: ParsedLine[]): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    if (ok) {
      this.snapshot = held.snap;
      out.push({
        line: held.line,
        recognized: true,
        event: { kind: 'SNAPSHOT', at: held.snap.at, line: held.line, key: this.keys.key(held.snap.at, held.text) },
      });
    } else {
      out.push({ line: held.line, recognized: true, event: null });
    }
    for (const p of held.lines) out.push(p);
  }
}
