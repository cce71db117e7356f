/**
 * Local wall time in an IANA zone → UTC epoch milliseconds, with DST handled, using the ICU data that Node 20 ships
 * (Intl.DateTimeFormat). Offsets are cached per local hour, so a log of a million lines asks Intl a few thousand times.
 */

/** An IANA time-zone name that this runtime does not know. The import service maps it to BAD_USER_INPUT. */
export class UnknownTimeZoneError extends Error {
  constructor(readonly timeZone: string) {
    super(`Unknown time zone "${timeZone}": give an IANA zone name such as "UTC" or "Europe/Berlin"`);
    this.name = 'UnknownTimeZoneError';
  }
}

const HOUR = 3_600_000;
const ZERO: readonly [number, number] = [0, 0];

/** Converts local wall-clock times of one zone to UTC instants. */
export class ZoneClock {
  readonly timeZone: string;
  private readonly format: Intl.DateTimeFormat | null;
  /** local hour (as a UTC-based ms number, floored to the hour) → [earlier offset, later offset] in ms (equal unless the hour is ambiguous or skipped). */
  private readonly cache = new Map<number, readonly [number, number]>();
  /** local day → its single offset, or null when the offset changes within it. */
  private readonly dayCache = new Map<number, number | null>();

  constructor(timeZone: string) {
    if (typeof timeZone !== 'string' || timeZone.trim() === '') throw new UnknownTimeZoneError(String(timeZone));
    const name = timeZone.trim();
    let resolved: string;
    try {
      resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
    } catch {
      throw new UnknownTimeZoneError(name);
    }
    this.timeZone = resolved;
    this.format =
      resolved === 'UTC' || resolved === 'Etc/UTC'
        ? null
        : new Intl.DateTimeFormat('en-US', {
            timeZone: resolved,
            hourCycle: 'h23',
            year: 'numeric',
            month: 'numeric',
            day: 'numeric',
            hour: 'numeric',
            minute: 'numeric',
            second: 'numeric',
          });
  }

  /** The zone's offset (local − UTC, ms) at a UTC instant. */
  offsetAt(utcMs: number): number {
    if (!this.format) return 0;
    const parts = this.format.formatToParts(new Date(utcMs));
    let y = 0,
      mo = 0,
      d = 0,
      h = 0,
      mi = 0,
      s = 0;
    for (const p of parts) {
      switch (p.type) {
        case 'year':
          y = Number(p.value);
          break;
        case 'month':
          mo = Number(p.value);
          break;
        case 'day':
          d = Number(p.value);
          break;
        case 'hour':
          h = Number(p.value);
          break;
        case 'minute':
          mi = Number(p.value);
          break;
        case 'second':
          s = Number(p.value);
          break;
      }
    }
    const local = Date.UTC(y, mo - 1, d, h, mi, s);
    return local - (utcMs - (((utcMs % 1000) + 1000) % 1000));
  }

  /** The two candidate offsets for a local wall time (given as the UTC-based ms of the same calendar fields). */
  private offsets(localMs: number): readonly [number, number] {
    // Most days have one offset all day: one cache entry per local day, found with two Intl calls.
    const dayKey = Math.floor(localMs / (24 * HOUR)) * 24 * HOUR;
    let day = this.dayCache.get(dayKey);
    if (day === undefined) {
      if (!this.format) day = 0;
      else {
        const a = this.offsetAt(dayKey - 36 * HOUR);
        day = a === this.offsetAt(dayKey + 60 * HOUR) ? a : null;
      }
      if (this.dayCache.size > 50_000) this.dayCache.clear();
      this.dayCache.set(dayKey, day);
    }
    if (day !== null) return day === 0 ? ZERO : [day, day];
    const hourKey = Math.floor(localMs / HOUR) * HOUR;
    let hit = this.cache.get(hourKey);
    if (hit === undefined) {
      if (!this.format) {
        hit = [0, 0];
      } else {
        // Offsets in force a day either side bound every offset this hour can have.
        const a = this.offsetAt(hourKey - 24 * HOUR);
        const b = this.offsetAt(hourKey + 24 * HOUR);
        const candidates = new Set<number>([a, b, this.offsetAt(hourKey - a), this.offsetAt(hourKey - b)]);
        // An offset is valid for this local hour when the instant it gives maps back to the same local hour.
        const valid: number[] = [];
        for (const off of candidates) {
          if (this.offsetAt(hourKey - off) === off || this.offsetAt(hourKey + HOUR - 1000 - off) === off) valid.push(off);
        }
        if (valid.length === 0) {
          // Skipped hour (spring forward): read the time with the offset before the jump, as a clock not yet moved on.
          const before = Math.min(a, b);
          hit = [before, before];
        } else {
          valid.sort((x, y) => y - x); // larger offset = earlier instant
          hit = [valid[0], valid[valid.length - 1]];
        }
      }
      if (this.cache.size > 50_000) this.cache.clear();
      this.cache.set(hourKey, hit);
    }
    return hit;
  }

  /**
   * UTC ms for a local wall time. In an ambiguous hour (autumn fall-back) the earlier instant is taken unless
   * `notBefore` is given and only the later one is at or after it (a log whose clock went back an hour).
   */
  toUtc(year: number, month: number, day: number, hour: number, minute: number, second: number, notBefore?: number): number {
    const local = Date.UTC(year, month - 1, day, hour, minute, second);
    const [earlyOff, lateOff] = this.offsets(local);
    const early = local - earlyOff;
    if (earlyOff === lateOff || notBefore === undefined) return early;
    const late = local - lateOff;
    return early < notBefore - 5 * 60_000 && late >= notBefore - 5 * 60_000 ? late : early;
  }
}
