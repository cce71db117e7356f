import * as crypto from 'crypto';

type HashFn = (data: string) => string;
const oneShot = (crypto as unknown as { hash?: (algorithm: string, data: string, encoding: string) => string }).hash;
/** SHA-1 hex of a string (Node ≥ 20.12 has the faster one-shot crypto.hash). */
export const sha1Hex: HashFn = oneShot ? (data) => oneShot('sha1', data, 'hex') : (data) => crypto.createHash('sha1').update(data).digest('hex');

/**
 * Keys of events: SHA-1 of `${at}|${text}|${ordinal}`, the ordinal counting identical (same at, same text) lines seen
 * earlier in this input. Only the most recent seconds are remembered (identical lines are adjacent in time), so memory
 * stays flat over a million lines.
 */
export class EventKeys {
  /** The current second's distinct texts and how often each was seen (lines of one second are few and adjacent). */
  private curAt = Number.NaN;
  private curTexts: string[] = [];
  private curCounts: number[] = [];
  /** Earlier seconds, for lines that come back out of order. */
  private readonly older = new Map<number, { texts: string[]; counts: number[] }>();

  key(at: number, text: string): string {
    if (at !== this.curAt) {
      if (!Number.isNaN(this.curAt)) {
        this.older.set(this.curAt, { texts: this.curTexts, counts: this.curCounts });
        if (this.older.size > 256) this.older.delete(this.older.keys().next().value as number);
      }
      const back = this.older.get(at);
      if (back !== undefined) {
        this.older.delete(at);
        this.curTexts = back.texts;
        this.curCounts = back.counts;
      } else {
        this.curTexts = [];
        this.curCounts = [];
      }
      this.curAt = at;
    }
    const texts = this.curTexts;
    let ordinal = 0;
    let k = 0;
    for (; k < texts.length; k++) {
      if (texts[k] === text) {
        ordinal = this.curCounts[k]++;
        break;
      }
    }
    if (k === texts.length) {
      texts.push(text);
      this.curCounts.push(1);
    }
    return sha1Hex(`${at}|${text}|${ordinal}`);
  }
}

/** Key of an lmstat holding: the same holding seen in many snapshots has one key. */
export function holdingKey(feature: string, user: string, host: string, handle: string | null, since: number): string {
  return sha1Hex(`HELD|${feature}|${user}|${host}|${handle ?? ''}|${since}`);
}

/** A line without its trailing whitespace (and CR), as keys use it. */
export function trimEnd(line: string): string {
  let end = line.length;
  while (end > 0) {
    const c = line.charCodeAt(end - 1);
    if (c === 32 || c === 9 || c === 13 || c === 10) end--;
    else break;
  }
  return end === line.length ? line : line.slice(0, end);
}
