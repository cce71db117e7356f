const DAY_MS = 86_400_000;

/**
 * Which part of a window [from, to) the reports read from ledger_daily_usage: the whole UTC
 * days inside it, [start, end). The rest, [from, start) and [end, to), is read from raw
 * ledger rows. A window holding no whole day gets start = end = to: no rollup day, and the
 * first raw edge is the whole window.
 */
export interface RollupSpan {
  start: Date;
  end: Date;
}

export function rollupSpan(from: Date, to: Date): RollupSpan {
  const start = Math.ceil(from.getTime() / DAY_MS) * DAY_MS;
  const end = Math.floor(to.getTime() / DAY_MS) * DAY_MS;
  if (start >= end) return { start: to, end: to };
  return { start: new Date(start), end: new Date(end) };
}
