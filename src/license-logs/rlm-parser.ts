/**
 * RLM (Reprise) report log, the ISV server's REPORTLOG, in its documented "std", "detailed" and "small" formats
 * (reportlog v10 and later field order). Records used:
 *
 *   START hostname mm/dd/yyyy hh:mm                                        (log file start; a restart unless it
 *                                                                            follows `SWITCH from` or is followed by INUSE)
 *   OUT product version pool# user host "isv_def" count cur_use cur_resuse server_handle share_handle process_id
 *       "project" "requested product" "requested version" mm/dd hh:mm:ss[.tenths_of_msec] [detailed extras]
 *   OUT product version user host "isv_def" count server_handle share_handle hh:mm                        (small)
 *   IN why product version user host "isv_def" count cur_use cur_resuse server_handle mm/dd hh:mm:ss[.frac]
 *   IN why count server_handle hh:mm                                                                     (small)
 *   DENY product version user host "isv_def" count why last_attempt [pid] mm/dd hh:mm[:ss[.frac]]
 *   INUSE product version pool# user host "isv_def" count server_handle [share_handle] process_id mm/dd hh:mm:ss
 *   SHUTDOWN user host mm/dd hh:mm:ss
 *   mm/dd/yyyy hh:mm                                                        (periodic timestamp)
 *   END mm/dd/yyyy hh:mm
 *
 * A DENY whose last_attempt is 0 is not a denial of the application (it will try another server; Reprise's own
 * advice is to report only last attempts): it comes back recognized, without an event.
 */
import type { LineParser, LogEvent, ParsedLine } from './log-types';
import { EventKeys, trimEnd } from './event-key';
import type { ZoneClock } from './time-zone';

const DAY_MS = 86_400_000;
const MMDD = /^(\d{1,2})\/(\d{1,2})$/;
const MMDDYYYY = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/;
const KNOWN_FIRST = new Set([
  'RLM',
  'REPROCESSED',
  'ISV:',
  'SWITCH',
  'TIMEZONE',
  'LICENSE',
  'PRODUCT',
  'AUTH',
  'REREAD',
  'log',
  'QUE',
  'DEQUE',
  'ROAM_EXTEND',
  'METER_DEC',
  'DYNRES',
  'TIMEJUMP',
  'INUSE',
  'END',
]);
const HEADER_TEXT = /^(?:Logfile format Copyright|For documentation on this format|You are encouraged to build tools)/;
const IN_WHY: Record<string, string> = {
  '1': 'checkin',
  '2': 'application exited',
  '3': 'removed by rlmremove',
  '4': 'removed by server after timeout',
  '5': 'hold/minimum checkout period expired',
  '6': 'client requested dequeue',
  '7': 'portable hostid removed',
  '8': 'failed host back up',
  '9': 'server lost its transferred licenses',
  '10': 'meter ran out of count',
  '11': 'client missed heartbeat',
  '12': 'temporary license expired',
  '13': 'temporary license returned',
};

/** Splits a record on blanks; a "quoted field" is one token (quotes dropped, `""` gives ''). */
export function rlmTokens(text: string): string[] {
  const tokens: string[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9) {
      i++;
      continue;
    }
    if (c === 34 || c === 0x201c) {
      let j = i + 1;
      while (j < n && text.charCodeAt(j) !== 34 && text.charCodeAt(j) !== 0x201d) j++;
      tokens.push(text.slice(i + 1, j));
      i = j + 1;
    } else {
      let j = i + 1;
      while (j < n && text.charCodeAt(j) !== 32 && text.charCodeAt(j) !== 9) j++;
      tokens.push(text.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

interface Holder {
  feature: string;
  user: string;
  host: string;
}

export class RlmParser implements LineParser {
  private lineNo = 0;
  private vendor: string | null = null;
  private y = 0;
  private m = 0;
  private d = 0;
  private lastSec = -1;
  private lastAt: number | undefined = undefined;
  private switched = false;
  /** A START whose meaning (restart, or the next file of a running server) the following records decide. */
  private start: { line: number; text: string; at: number; lines: ParsedLine[] } | null = null;
  private readonly holders = new Map<string, Holder>();
  private readonly keys = new EventKeys();

  constructor(private readonly clock: ZoneClock) {}

  feed(raw: string, out: ParsedLine[]): void {
    const line = ++this.lineNo;
    let text = trimEnd(raw);
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.length === 0) return this.put({ line, event: null, recognized: true }, out);
    const t = rlmTokens(text);
    const kind = t[0];
    switch (kind) {
      case 'OUT':
        return this.activity(this.out(line, text, t), out);
      case 'IN':
        return this.activity(this.in(line, text, t), out);
      case 'DENY':
        return this.activity(this.deny(line, text, t), out);
      case 'SHUTDOWN': {
        const at = this.stamp(t, t.length - 2);
        const event: LogEvent | null = at === null ? null : { kind: 'RESTART', at, vendor: this.vendor, phase: 'stop', line, key: this.keys.key(at, text) };
        return this.activity({ line, event, recognized: at !== null }, out);
      }
      case 'START': {
        this.decideStart(true, out);
        const dm = t.length >= 4 ? MMDDYYYY.exec(t[2]) : null;
        const tm = t.length >= 4 ? TIME.exec(t[3]) : null;
        if (!dm || !tm) return this.put({ line, event: null, recognized: false }, out);
        this.setDate(+dm[3], +dm[1], +dm[2]);
        const at = this.at(+tm[1], +tm[2], tm[3] ? +tm[3] : 0, 0);
        if (this.switched) {
          this.switched = false;
          return this.put({ line, event: null, recognized: true }, out);
        }
        this.start = { line, text, at, lines: [] };
        return;
      }
      case 'INUSE': {
        // Licenses in use when this file began: the server was running, so the START before was not a restart.
        this.decideStart(false, out);
        if (t.length >= 9) this.holders.set(t[8], { feature: t[1], user: t[4], host: t[5] });
        return this.put({ line, event: null, recognized: true }, out);
      }
      case 'ISV:':
        this.vendor = t.length > 1 ? t[1].replace(/,$/, '') : null;
        return this.put({ line, event: null, recognized: true }, out);
      case 'SWITCH':
        if (t[1] === 'from') this.switched = true;
        return this.put({ line, event: null, recognized: true }, out);
      case 'END': {
        this.decideStart(true, out);
        const dm = t.length >= 2 ? MMDDYYYY.exec(t[1]) : null;
        if (dm) this.setDate(+dm[3], +dm[1], +dm[2]);
        return this.put({ line, event: null, recognized: true }, out);
      }
    }
    const ts = t.length === 2 ? MMDDYYYY.exec(t[0]) : null;
    if (ts && TIME.test(t[1])) {
      this.setDate(+ts[3], +ts[1], +ts[2]);
      return this.put({ line, event: null, recognized: true }, out);
    }
    if (KNOWN_FIRST.has(kind) || kind.startsWith('TEMP') || HEADER_TEXT.test(text)) return this.put({ line, event: null, recognized: true }, out);
    return this.put({ line, event: null, recognized: false }, out);
  }

  end(out: ParsedLine[]): void {
    this.decideStart(true, out);
  }

  private put(p: ParsedLine, out: ParsedLine[]): void {
    if (this.start !== null) {
      this.start.lines.push(p);
      if (this.start.lines.length > 10_000) this.decideStart(true, out);
    } else out.push(p);
  }

  private activity(p: ParsedLine, out: ParsedLine[]): void {
    if (p.event !== null) this.decideStart(true, out);
    this.put(p, out);
  }

  private decideStart(restart: boolean, out: ParsedLine[]): void {
    const s = this.start;
    if (s === null) return;
    this.start = null;
    const event: LogEvent | null = restart
      ? { kind: 'RESTART', at: s.at, vendor: this.vendor, phase: 'start', line: s.line, key: this.keys.key(s.at, s.text) }
      : null;
    out.push({ line: s.line, event, recognized: true });
    for (const p of s.lines) out.push(p);
  }

  private out(line: number, text: string, t: string[]): ParsedLine {
    const dateIdx = findDate(t, 8);
    let event: LogEvent | null = null;
    if (dateIdx > 0 && t.length > 10) {
      // std / detailed
      const at = this.stamp(t, dateIdx);
      const count = toCount(t[7]);
      if (at !== null && count !== null) {
        event = { kind: 'OUT', at, vendor: this.vendor, feature: t[1], user: t[4], host: t[5], count, handle: t[10], line, key: this.keys.key(at, text) };
      }
    } else if (t.length >= 9 && TIME.test(t[t.length - 1])) {
      // small: OUT product version user host "isv_def" count server_handle share_handle hh:mm
      const at = this.stamp(t, -1);
      const count = toCount(t[6]);
      if (at !== null && count !== null) {
        event = { kind: 'OUT', at, vendor: this.vendor, feature: t[1], user: t[3], host: t[4], count, handle: t[7], line, key: this.keys.key(at, text) };
      }
    }
    if (event === null || event.kind !== 'OUT') return { line, event: null, recognized: false };
    if (event.handle) this.holders.set(event.handle, { feature: event.feature, user: event.user, host: event.host });
    return { line, event, recognized: true };
  }

  private in(line: number, text: string, t: string[]): ParsedLine {
    let event: LogEvent | null = null;
    const why = t[1];
    const reason = why === undefined ? null : (IN_WHY[why] ?? `why ${why}`);
    if (t.length >= 13 && MMDD.test(t[11])) {
      const at = this.stamp(t, 11);
      const count = toCount(t[7]);
      if (at !== null && count !== null) {
        event = {
          kind: 'IN',
          at,
          vendor: this.vendor,
          feature: t[2],
          user: t[4],
          host: t[5],
          count,
          handle: t[10],
          reason,
          line,
          key: this.keys.key(at, text),
        };
      }
    } else if (t.length === 5 && TIME.test(t[4])) {
      // small: IN why count server_handle hh:mm; who it was comes from the checkout with that handle
      const at = this.stamp(t, -1);
      const count = toCount(t[2]);
      const who = this.holders.get(t[3]);
      if (at !== null && count !== null) {
        event = {
          kind: 'IN',
          at,
          vendor: this.vendor,
          feature: who?.feature ?? '',
          user: who?.user ?? '',
          host: who?.host ?? '',
          count,
          handle: t[3],
          reason,
          line,
          key: this.keys.key(at, text),
        };
      }
    }
    if (event === null || event.kind !== 'IN') return { line, event: null, recognized: false };
    if (event.handle) this.holders.delete(event.handle);
    return { line, event, recognized: true };
  }

  private deny(line: number, text: string, t: string[]): ParsedLine {
    if (t.length < 11) return { line, event: null, recognized: false };
    const dateIdx = MMDD.test(t[9]) ? 9 : MMDD.test(t[10]) ? 10 : -1;
    const at = dateIdx > 0 ? this.stamp(t, dateIdx) : null;
    const count = toCount(t[6]);
    if (at === null || count === null) return { line, event: null, recognized: false };
    if (t[8] === '0') return { line, event: null, recognized: true };
    return {
      line,
      recognized: true,
      event: {
        kind: 'DENIED',
        at,
        vendor: this.vendor,
        feature: t[1],
        user: t[3],
        host: t[4],
        count,
        reason: `RLM status ${t[7]}`,
        line,
        key: this.keys.key(at, text),
      },
    };
  }

  /** The time of a record: `mm/dd hh:mm[:ss[.frac]]` at t[dateIdx], or (dateIdx −1) a bare time on the current date. */
  private stamp(t: string[], dateIdx: number): number | null {
    if (dateIdx >= 0) {
      const md = MMDD.exec(t[dateIdx] ?? '');
      const tm = TIME.exec(t[dateIdx + 1] ?? '');
      if (!md || !tm) return null;
      const m = +md[1],
        d = +md[2];
      if (m < 1 || m > 12 || d < 1 || d > 31) return null;
      if (this.y === 0) return null;
      this.setDate(nearestYear(this.y, this.m, this.d, m, d), m, d);
      return this.at(+tm[1], +tm[2], tm[3] ? +tm[3] : 0, tm[4] ? fracMs(tm[4]) : 0);
    }
    const tm = TIME.exec(t[t.length - 1]);
    if (!tm || this.y === 0) return null;
    const sec = +tm[1] * 3600 + +tm[2] * 60 + (tm[3] ? +tm[3] : 0);
    if (this.lastSec >= 0 && sec < this.lastSec - 3600) {
      const next = new Date(Date.UTC(this.y, this.m - 1, this.d) + DAY_MS);
      this.setDate(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate());
    }
    return this.at(+tm[1], +tm[2], tm[3] ? +tm[3] : 0, 0);
  }

  private at(h: number, mi: number, s: number, ms: number): number {
    this.lastSec = h * 3600 + mi * 60 + s;
    const at = this.clock.toUtc(this.y, this.m, this.d, h, mi, s, this.lastAt) + ms;
    this.lastAt = at;
    return at;
  }

  private setDate(y: number, m: number, d: number): void {
    if (y !== this.y || m !== this.m || d !== this.d) this.lastSec = -1;
    this.y = y;
    this.m = m;
    this.d = d;
  }
}

function findDate(t: string[], from: number): number {
  for (let i = from; i < t.length - 1; i++) if (MMDD.test(t[i]) && TIME.test(t[i + 1])) return i;
  return -1;
}

function toCount(s: string | undefined): number | null {
  if (s === undefined || !/^\d+$/.test(s)) return null;
  return Math.max(1, +s);
}

/** Fraction digits after the seconds: tenths of a millisecond in the detailed format. */
function fracMs(frac: string): number {
  return Math.floor(Number(`0.${frac}`) * 1000);
}

/** The year (of y−1, y, y+1) that puts month/day closest to the current date. */
function nearestYear(y: number, m: number, d: number, mm: number, dd: number): number {
  const cur = Date.UTC(y, m - 1, d);
  let best = y;
  let bestDist = Infinity;
  for (const cand of [y - 1, y, y + 1]) {
    const dist = Math.abs(Date.UTC(cand, mm - 1, dd) - cur);
    if (dist < bestDist) {
      bestDist = dist;
      best = cand;
    }
  }
  return best;
}
