/**
 * The arithmetic of the pool reports, on plain numbers: time-weighted levels, the cap in
 * force over time, the suggested cap. Pure, so each rule has a spec with hand-made inputs.
 */

export interface CapChange {
  at: number;
  cap: number;
}

/**
 * The cap in force at `t`: the last change at or before it. Before the first recorded change
 * (history imported from before the pool was created here) the first cap is taken.
 */
export function capAt(changes: CapChange[], t: number, fallback: number): number {
  if (changes.length === 0) return fallback;
  let cap = changes[0].cap;
  for (const c of changes) {
    if (c.at > t) break;
    cap = c.cap;
  }
  return cap;
}

/** Credit-seconds of capacity over [from, to): the cap in force at each instant, integrated. */
export function capSeconds(changes: CapChange[], from: number, to: number, fallback: number): number {
  let total = 0;
  let t = from;
  let cap = capAt(changes, from, fallback);
  for (const c of changes) {
    if (c.at <= from) continue;
    if (c.at >= to) break;
    total += (cap * (c.at - t)) / 1000;
    t = c.at;
    cap = c.cap;
  }
  return total + (cap * (to - t)) / 1000;
}

/** Seconds at each level over a window of `totalSeconds`, level 0 being the time left over. Ascending. */
export function levelShares(levelSeconds: Map<number, number>, totalSeconds: number): { level: number; seconds: number }[] {
  let busy = 0;
  const levels: { level: number; seconds: number }[] = [];
  for (const [level, seconds] of levelSeconds) {
    if (level <= 0 || seconds <= 0) continue;
    busy += seconds;
    levels.push({ level, seconds });
  }
  const idle = totalSeconds - busy;
  // Float sums of thousands of intervals leave dust; a millisecond of level 0 is dust.
  if (idle > 1e-3) levels.push({ level: 0, seconds: idle });
  return levels.sort((a, b) => a.level - b.level);
}

/**
 * Time-weighted percentile: the smallest level at or below which the pool spent at least
 * `p` of the window. p = 1 is the peak; p = 0.95 ignores the busiest 5 % of the time.
 */
export function timeWeightedPercentile(shares: { level: number; seconds: number }[], totalSeconds: number, p: number): number {
  if (totalSeconds <= 0 || shares.length === 0) return 0;
  let cumulative = 0;
  const needed = p * totalSeconds - 1e-6;
  for (const s of shares) {
    cumulative += s.seconds;
    if (cumulative >= needed) return s.level;
  }
  return shares[shares.length - 1].level;
}

/**
 * The smallest cap that would have refused at most `tolerance` (a share, 0 by default) of
 * the window's requests, never below the dearest app's cost. A request needed the pool to
 * reach its level (see UsageSlice.requestLevels), so a cap below that level refuses it.
 */
export function suggestCap(input: { requestLevels: Map<number, number>; tolerance: number; dearestCost: number }): number {
  const levels = [...input.requestLevels.entries()].filter(([, n]) => n > 0).sort((a, b) => b[0] - a[0]);
  const requests = levels.reduce((sum, [, n]) => sum + n, 0);
  const mayRefuse = Math.floor(input.tolerance * requests + 1e-9);
  let refused = 0;
  let cap = 0;
  for (const [level, n] of levels) {
    if (refused + n > mayRefuse) {
      cap = level;
      break;
    }
    refused += n;
  }
  return Math.max(cap, input.dearestCost);
}

/** Starts of the UTC hour or day buckets that meet [from, to). */
export function bucketStarts(from: number, to: number, unitMs: number): number[] {
  const starts: number[] = [];
  for (let s = Math.floor(from / unitMs) * unitMs; s < to; s += unitMs) starts.push(s);
  return starts;
}
