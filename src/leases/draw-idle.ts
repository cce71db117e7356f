/** One lease of a draw: when it was live, and the intervals its holder reported idle (ms). */
export interface LiveSpan {
  start: number;
  end: number;
  idle: { start: number; end: number }[];
}

/**
 * The part of [from, to) during which the draw had at least one live lease and every live
 * lease was idle. Linger (no live lease) is not idle: nobody reported anything. Pure, so the
 * ledger's idle figure is unit-tested on hand-made spans.
 */
export function heldWhileIdleMs(spans: LiveSpan[], from: number, to: number): number {
  const cuts = new Set<number>([from, to]);
  for (const s of spans) {
    for (const t of [s.start, s.end, ...s.idle.flatMap((i) => [i.start, i.end])]) if (t > from && t < to) cuts.add(t);
  }
  const points = [...cuts].sort((a, b) => a - b);
  let idle = 0;
  for (let k = 0; k + 1 < points.length; k += 1) {
    const mid = (points[k] + points[k + 1]) / 2;
    const live = spans.filter((s) => s.start <= mid && mid < s.end);
    if (live.length > 0 && live.every((s) => s.idle.some((i) => i.start <= mid && mid < i.end))) idle += points[k + 1] - points[k];
  }
  return idle;
}
