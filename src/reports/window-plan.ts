import type { RollupBucket } from './pool-usage-rollup.entity';
import { ceilTo, DAY_MS, floorTo, HOUR_MS } from './usage-slices';

export type WindowPart = { kind: 'raw' | RollupBucket; from: number; to: number };

/**
 * Plans how a window is read: whole days and hours that the rollups cover come from rollup
 * rows, everything else (partial hours at the edges, the hours not rolled up yet) is computed
 * from raw rows with the same sweep the rollup job uses. Time before the pool's coverage
 * holds nothing, by the cursor's invariant.
 */
export function planWindow(from: number, to: number, cursor: { coveredFrom: number; coveredUntil: number } | null, useDays: boolean): WindowPart[] {
  if (!cursor) return [{ kind: 'raw', from, to }];
  const parts: WindowPart[] = [];
  const a = Math.max(from, cursor.coveredFrom);
  const b = Math.min(to, cursor.coveredUntil);
  if (a < b) {
    const h1 = ceilTo(a, HOUR_MS);
    const h2 = floorTo(b, HOUR_MS);
    if (h1 >= h2) parts.push({ kind: 'raw', from: a, to: b });
    else {
      if (a < h1) parts.push({ kind: 'raw', from: a, to: h1 });
      const d1 = ceilTo(h1, DAY_MS);
      const d2 = floorTo(h2, DAY_MS);
      if (useDays && d1 < d2) {
        if (h1 < d1) parts.push({ kind: 'HOUR', from: h1, to: d1 });
        parts.push({ kind: 'DAY', from: d1, to: d2 });
        if (d2 < h2) parts.push({ kind: 'HOUR', from: d2, to: h2 });
      } else parts.push({ kind: 'HOUR', from: h1, to: h2 });
      if (h2 < b) parts.push({ kind: 'raw', from: h2, to: b });
    }
  }
  const tail = Math.max(from, cursor.coveredUntil);
  if (tail < to) parts.push({ kind: 'raw', from: tail, to });
  return parts;
}
