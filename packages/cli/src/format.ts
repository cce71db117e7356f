/**
 * Plain-text formatting for people: aligned tables, ages and local times. No colours and no
 * terminal tricks here, so the same text reads well in a terminal, a log file and a CI job.
 */

export type Align = 'left' | 'right';

export interface Column {
  header: string;
  align?: Align;
}

/**
 * Lays rows out under their headers, each column as wide as its widest cell, two spaces
 * apart, trailing spaces trimmed. Numbers read best right-aligned, text left-aligned.
 */
export function table(columns: Column[], rows: string[][], indent = ''): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((cell, i) => (columns[i].align === 'right' ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n');
}

/**
 * A length of time the way a person says it, to the second below an hour and to the minute
 * above: `45s`, `3m12s`, `2h05m`, `3d04h`. Negative lengths are shown as 0s.
 */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}

/** `2026-12-07 06:01:12` in the local time zone: what `date` prints and what people compare. */
export function localTime(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

/** When something started, with how long ago: `2026-12-07 06:01:12 (12m03s ago)`. */
export function since(at: Date, now: Date): string {
  return `${localTime(at)} (${duration(now.getTime() - at.getTime())} ago)`;
}

/** When something ends, relative to now: `in 4m48s`, or `4s ago` once it is past. */
export function until(at: Date, now: Date): string {
  const ms = at.getTime() - now.getTime();
  return ms >= 0 ? `in ${duration(ms)}` : `${duration(-ms)} ago`;
}

/** `1 lease`, `2 leases`. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

const MONEY = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 4 });

/**
 * An amount of money for a table: thousands grouped, 2 to 4 decimals (`1,000.00`, `0.0465`),
 * since a reservation is often a fraction of a cent. An amount that is not 0 never reads as
 * 0: below half of 0.0001 it is `<0.0001`. The JSON forms keep the exact figures.
 */
export function money(amount: number): string {
  if (amount > 0 && amount < 0.00005) return '<0.0001';
  return MONEY.format(amount);
}

/** A share in percent with one decimal (`2.6%`, `104.0%`); `<0.1%` for a share that is not 0 but rounds to it. */
export function percent(value: number): string {
  if (value > 0 && value < 0.05) return '<0.1%';
  return `${value.toFixed(1)}%`;
}
