/**
 * FlexNet Publisher (FLEXlm) debug log: `lmgrd.log` and the vendor daemons' logs.
 *
 * Every line is `H:MM:SS (daemon) message` (hours below 10 have a leading space or none). The date is not on the
 * line: it comes from `(lmgrd) TIMESTAMP M/D/YYYY` lines (every 6 hours), the lmgrd start line `... started on host
 * (IBM PC) (M/D/YYYY)`, `Server's System Date and Time: Wed Mar 30 2016 01:56:00 ...` and the SLOG `Start-Date:` /
 * `Time:` lines; between them a clock that goes back by more than an hour means midnight passed. Lines before the
 * first date are held back (up to MAX_PENDING) and dated backwards from it.
 */
import type { LineParser, LogEvent, ParsedLine } from './log-types';
import { EventKeys, trimEnd } from './event-key';
import type { ZoneClock } from './time-zone';

const MAX_PENDING = 100_000;
const DAY_MS = 86_400_000;
/** A clock going back by more than this (seconds) is a new day; less is jitter or the autumn DST hour. */
const ROLLOVER_BACK = 3600;

const MONTHS: Record<string, number> = { Jan: 1, Feb: 2, Mar: 3, Apr: 4, May: 5, Jun: 6, Jul: 7, Aug: 8, Sep: 9, Oct: 10, Nov: 11, Dec: 12 };
const SLASH_DATE = /(\d{1,2})\/(\d{1,2})\/(\d{4})/;
const LMGRD_START = /\bstarted on .*\((\d{1,2})\/(\d{1,2})\/(\d{4})\)$/;
/** `Wed Mar 30 2016` as in `Server's System Date and Time:` and the SLOG `Start-Date:` / `Time:` lines. */
const WORD_DATE = /^(?:Server's System Date and Time:|\(@[^@]*-SLOG@\) (?:Start-Date|Time):) +[A-Z][a-z]{2} ([A-Z][a-z]{2}) (\d{1,2}) (\d{4}) /;
const COUNT = /^(\d+) licenses?$/;

interface Pending {
  line: number;
  text: string;
  sec: number;
  event: LogEvent | null;
  recognized: boolean;
}

/** The body of an OUT/IN/DENIED/UNSUPPORTED message. */
interface Body {
  feature: string;
  user: string;
  host: string;
  count: number;
  handle: string | null;
  reason: string | null;
}

export class FlexlmParser implements LineParser {
  private lineNo = 0;
  /** Days since 1970-01-01 of the current line, or -1 before the first date. */
  private day = -1;
  private dayY = 0;
  private dayM = 0;
  private dayD = 0;
  private lastSec = -1;
  private lastAt: number | undefined = undefined;
  private pending: Pending[] = [];
  private readonly keys = new EventKeys();

  constructor(private readonly clock: ZoneClock) {}

  feed(raw: string, out: ParsedLine[]): void {
    const line = ++this.lineNo;
    let text = trimEnd(raw);
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.length === 0) return this.emitPlain(line, true, out);

    // Header: optional spaces, H:MM:SS, " (", daemon, ")", then the message.
    let i = 0;
    const n = text.length;
    while (i < n && text.charCodeAt(i) === 32) i++;
    const h0 = i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    if (i === h0 || i - h0 > 2 || text.charCodeAt(i) !== 58) return this.emitPlain(line, false, out);
    const hh = num(text, h0, i);
    if (!isDigit(text.charCodeAt(i + 1)) || !isDigit(text.charCodeAt(i + 2)) || text.charCodeAt(i + 3) !== 58) return this.emitPlain(line, false, out);
    const mm = num(text, i + 1, i + 3);
    if (!isDigit(text.charCodeAt(i + 4)) || !isDigit(text.charCodeAt(i + 5)) || text.charCodeAt(i + 6) !== 32 || text.charCodeAt(i + 7) !== 40)
      return this.emitPlain(line, false, out);
    const ss = num(text, i + 4, i + 6);
    if (hh > 23 || mm > 59 || ss > 60) return this.emitPlain(line, false, out);
    const close = text.indexOf(')', i + 8);
    if (close < 0 || close === i + 8) return this.emitPlain(line, false, out);
    const daemon = text.slice(i + 8, close);
    if (daemon.indexOf(' ') >= 0) return this.emitPlain(line, false, out);
    let m = close + 1;
    while (m < n && text.charCodeAt(m) === 32) m++;
    const msg = m >= n ? '' : text.slice(m);
    const sec = hh * 3600 + mm * 60 + ss;
    const vendor = daemon === 'lmgrd' ? null : daemon;

    let event: LogEvent | null = null;
    let recognized = true;
    let dateY = 0,
      dateM = 0,
      dateD = 0;
    const c0 = msg.charCodeAt(0);
    if (c0 === 79 && msg.startsWith('OUT: ')) {
      const b = parseBody(msg, 5);
      if (b) event = { kind: 'OUT', at: 0, vendor, feature: b.feature, user: b.user, host: b.host, count: b.count, handle: b.handle, line, key: '' };
      else recognized = false;
    } else if (c0 === 73 && msg.startsWith('IN: ')) {
      const b = parseBody(msg, 4);
      if (b)
        event = {
          kind: 'IN',
          at: 0,
          vendor,
          feature: b.feature,
          user: b.user,
          host: b.host,
          count: b.count,
          handle: b.handle,
          reason: b.reason,
          line,
          key: '',
        };
      else recognized = false;
    } else if (c0 === 68 && msg.startsWith('DENIED: ')) {
      const b = parseBody(msg, 8);
      if (b) event = { kind: 'DENIED', at: 0, vendor, feature: b.feature, user: b.user, host: b.host, count: b.count, reason: b.reason ?? '', line, key: '' };
      else recognized = false;
    } else if (c0 === 85 && msg.startsWith('UNSUPPORTED: ')) {
      const b = parseBody(msg, 13);
      if (b)
        event = {
          kind: 'DENIED',
          at: 0,
          vendor,
          feature: b.feature,
          user: b.user,
          host: b.host,
          count: b.count,
          reason: `UNSUPPORTED: ${b.reason ?? ''}`.trimEnd(),
          line,
          key: '',
        };
      else recognized = false;
    } else if (c0 === 84 && msg.startsWith('TIMESTAMP ')) {
      const d = SLASH_DATE.exec(msg);
      if (d) {
        dateM = +d[1];
        dateD = +d[2];
        dateY = +d[3];
      }
    } else if (msg.startsWith('Server started on ')) {
      event = { kind: 'RESTART', at: 0, vendor, phase: 'start', line, key: '' };
    } else if (msg.startsWith('EXITING DUE TO SIGNAL') || msg.startsWith('Exiting due to signal')) {
      event = { kind: 'RESTART', at: 0, vendor, phase: 'stop', line, key: '' };
    } else if (vendor === null && msg.indexOf(' started on ') > 0) {
      const d = LMGRD_START.exec(msg);
      if (d) {
        dateM = +d[1];
        dateD = +d[2];
        dateY = +d[3];
        event = { kind: 'RESTART', at: 0, vendor: null, phase: 'start', line, key: '' };
      }
    } else if (c0 === 83 || c0 === 40) {
      const d = WORD_DATE.exec(msg);
      if (d && MONTHS[d[1]] !== undefined) {
        dateM = MONTHS[d[1]];
        dateD = +d[2];
        dateY = +d[3];
      }
    }

    if (dateY > 0 && !validDate(dateY, dateM, dateD)) dateY = 0;

    if (this.day < 0) {
      if (dateY === 0) {
        this.pending.push({ line, text, sec, event, recognized });
        if (this.pending.length > MAX_PENDING) this.flushUndated(out);
        return;
      }
      this.setDay(dateY, dateM, dateD);
      this.resolvePending(sec, out);
    } else {
      if (this.lastSec >= 0 && sec < this.lastSec - ROLLOVER_BACK) this.setDayNumber(this.day + 1);
      if (dateY > 0) this.setDay(dateY, dateM, dateD);
    }
    this.lastSec = sec;
    out.push(this.finish(line, text, sec, event, recognized));
  }

  end(out: ParsedLine[]): void {
    this.flushUndated(out);
  }

  private emitPlain(line: number, recognized: boolean, out: ParsedLine[]): void {
    if (this.pending.length > 0) this.pending.push({ line, text: '', sec: -1, event: null, recognized });
    else out.push({ line, event: null, recognized });
  }

  private finish(line: number, text: string, sec: number, event: LogEvent | null, recognized: boolean): ParsedLine {
    if (event !== null) {
      const h = (sec / 3600) | 0;
      const mi = ((sec % 3600) / 60) | 0;
      const at = this.clock.toUtc(this.dayY, this.dayM, this.dayD, h, mi, sec % 60, this.lastAt);
      event.at = at;
      event.key = this.keys.key(at, text);
      this.lastAt = at;
    }
    return { line, event, recognized };
  }

  /** The first date is known (the current day, at second `sec`): date the held-back lines backwards from it. */
  private resolvePending(sec: number, out: ParsedLine[]): void {
    if (this.pending.length === 0) return;
    const days = new Array<number>(this.pending.length);
    let day = this.day;
    let later = sec;
    for (let k = this.pending.length - 1; k >= 0; k--) {
      const p = this.pending[k];
      if (p.sec < 0) continue;
      if (p.sec > later + ROLLOVER_BACK) day--;
      days[k] = day;
      later = p.sec;
    }
    const today = this.day;
    for (let k = 0; k < this.pending.length; k++) {
      const p = this.pending[k];
      if (p.sec < 0 || p.event === null) {
        out.push({ line: p.line, event: null, recognized: p.recognized });
        continue;
      }
      if (days[k] !== this.day) this.setDayNumber(days[k]);
      out.push(this.finish(p.line, p.text, p.sec, p.event, p.recognized));
    }
    this.setDayNumber(today);
    this.pending = [];
  }

  /** No date ever came (or too many lines before it): the held-back lines cannot be placed in time. */
  private flushUndated(out: ParsedLine[]): void {
    for (const p of this.pending) out.push({ line: p.line, event: null, recognized: p.recognized });
    this.pending = [];
  }

  private setDay(y: number, m: number, d: number): void {
    this.day = Math.floor(Date.UTC(y, m - 1, d) / DAY_MS);
    this.dayY = y;
    this.dayM = m;
    this.dayD = d;
  }

  private setDayNumber(day: number): void {
    const dt = new Date(day * DAY_MS);
    this.day = day;
    this.dayY = dt.getUTCFullYear();
    this.dayM = dt.getUTCMonth() + 1;
    this.dayD = dt.getUTCDate();
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function num(s: string, from: number, to: number): number {
  let v = 0;
  for (let k = from; k < to; k++) v = v * 10 + (s.charCodeAt(k) - 48);
  return v;
}

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1 || d > 31 || y < 1970 || y > 9999) return false;
  return new Date(Date.UTC(y, m - 1, d)).getUTCDate() === d;
}

/**
 * `"feature" [(PORT_AT_HOST_PLUS   )] user@host [...] [(n licenses)] [(reason)] [^^^ verbose fields ^^^]`, the part
 * after `OUT: ` etc. The user may hold spaces (`LOCAL SERVICE@PC`); the host may not.
 */
function parseBody(msg: string, from: number): Body | null {
  const n = msg.length;
  let i = from;
  while (i < n && msg.charCodeAt(i) === 32) i++;
  let feature: string;
  if (msg.charCodeAt(i) === 34) {
    const q = msg.indexOf('"', i + 1);
    if (q < 0) return null;
    feature = msg.slice(i + 1, q);
    i = q + 1;
  } else {
    let j = i;
    while (j < n && msg.charCodeAt(j) !== 32) j++;
    feature = msg.slice(i, j);
    i = j;
  }
  if (feature.length === 0) return null;
  while (i < n && msg.charCodeAt(i) === 32) i++;
  if (msg.charCodeAt(i) === 40) {
    // (PORT_AT_HOST_PLUS   ) before the user on UNSUPPORTED lines
    const c = msg.indexOf(')', i);
    if (c < 0) return null;
    i = c + 1;
    while (i < n && msg.charCodeAt(i) === 32) i++;
  }
  let verbose: string[] | null = null;
  let end = n;
  const v = msg.indexOf('^^^', i);
  if (v >= 0) {
    const v2 = msg.indexOf('^^^', v + 3);
    verbose = msg
      .slice(v + 3, v2 > 0 ? v2 : n)
      .trim()
      .split(/\s+/);
    end = v;
  }
  const atSign = msg.indexOf('@', i);
  if (atSign < 0 || atSign >= end) return null;
  let hostEnd = atSign + 1;
  while (hostEnd < end && msg.charCodeAt(hostEnd) !== 32 && msg.charCodeAt(hostEnd) !== 9) hostEnd++;
  const token = msg.slice(i, hostEnd);
  if (token.indexOf('(') >= 0 || token.indexOf('"') >= 0) return null;
  const last = token.lastIndexOf('@');
  let user = token.slice(0, last);
  const host = token.slice(last + 1);
  let handle: string | null = null;
  if (verbose !== null) {
    // ver user ip pid handle in_use out_of project flex_version flex_revision date time is_dup_group
    if (user.length === 0 && verbose.length > 1) user = verbose[1];
    if (verbose.length > 4) handle = verbose[4];
  }
  if (user.length === 0 || host.length === 0) return null;

  let count = 1;
  let reason: string | null = null;
  let k = hostEnd;
  while (k < end) {
    const c = msg.charCodeAt(k);
    if (c === 40 || c === 91) {
      const open = c;
      const closeCh = c === 40 ? 41 : 93;
      let depth = 0;
      let j = k;
      for (; j < end; j++) {
        const cj = msg.charCodeAt(j);
        if (cj === open) depth++;
        else if (cj === closeCh && --depth === 0) break;
      }
      const inner = msg.slice(k + 1, j).trim();
      const cm = COUNT.exec(inner);
      if (cm) count = +cm[1];
      else if (open === 40 && inner.length > 0) reason = reason === null ? inner : `${reason} ${inner}`;
      k = j + 1;
    } else {
      k++;
    }
  }
  return { feature, user, host, count, handle, reason };
}
