import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ApiError } from './api';
import type { Loaded } from './hooks';

/** Loading, the contract's error (code and message), or the empty state that says what to do. */
export function Status<T>({
  q,
  empty,
  isEmpty,
  children,
}: {
  q: Loaded<T>;
  empty?: ComponentChildren;
  isEmpty?: (d: T) => boolean;
  children: (d: T) => ComponentChildren;
}) {
  if (q.error) return <ErrorBox error={q.error} retry={q.reload} />;
  if (q.data === undefined)
    return (
      <p class="muted" role="status">
        Loading…
      </p>
    );
  if (empty && isEmpty?.(q.data)) return <p class="empty">{empty}</p>;
  return <>{children(q.data)}</>;
}

export function ErrorBox({ error, retry }: { error: ApiError; retry?: () => void }) {
  return (
    <div class="error" role="alert">
      <strong>{error.code}</strong>: {error.message}
      {retry && (
        <button type="button" class="link" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

/** A gauge readable as text and by screen readers (a native meter with its value in aria-valuenow). */
export function Gauge({ value, max, label }: { value: number; max: number; label: string }) {
  return (
    <span class="gauge">
      <meter min={0} max={Math.max(max, value, 1)} value={value} high={Math.max(max, 1) * 0.85} optimum={0} aria-label={label} aria-valuenow={value} />
      <span class="gauge-text" data-testid="in-use">
        {value}
      </span>
      <span class="muted"> / {max}</span>
    </span>
  );
}

export interface Column<T> {
  key: string;
  label: string;
  render: (row: T) => ComponentChildren;
  sort?: (row: T) => number | string;
  filter?: (row: T) => string;
  numeric?: boolean;
}

/** A table whose columns sort (a button in each sortable header) and whose rows filter by text. */
export function Table<T>({
  rows,
  columns,
  caption,
  rowKey,
  initialSort,
  filterLabel,
}: {
  rows: T[];
  columns: Column<T>[];
  caption: string;
  rowKey: (r: T) => string;
  initialSort?: string;
  filterLabel?: string;
}) {
  const [sort, setSort] = useState<{ key: string; dir: 1 | -1 } | null>(initialSort ? { key: initialSort, dir: 1 } : null);
  const [filter, setFilter] = useState('');
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    let out = f ? rows.filter((r) => columns.some((c) => c.filter && c.filter(r).toLowerCase().includes(f))) : rows;
    const col = sort && columns.find((c) => c.key === sort.key);
    if (col?.sort) {
      const by = col.sort;
      out = [...out].sort((a, b) => {
        const x = by(a);
        const y = by(b);
        return (x < y ? -1 : x > y ? 1 : 0) * sort!.dir;
      });
    }
    return out;
  }, [rows, columns, sort, filter]);
  const filterable = columns.some((c) => c.filter);
  return (
    <div class="table-wrap">
      {filterable && (
        <label class="filter">
          {filterLabel ?? `Filter ${caption.toLowerCase()}`}
          <input type="search" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        </label>
      )}
      <table>
        <caption>
          {caption}
          {filter && ` (${shown.length} of ${rows.length})`}
        </caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" class={c.numeric ? 'num' : undefined} aria-sort={sort?.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : undefined}>
                {c.sort ? (
                  <button
                    type="button"
                    class="sort"
                    onClick={() => setSort(sort?.key === c.key ? { key: c.key, dir: sort.dir === 1 ? -1 : 1 } : { key: c.key, dir: 1 })}
                  >
                    {c.label}
                    <span aria-hidden="true">{sort?.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ' ↕'}</span>
                  </button>
                ) : (
                  c.label
                )}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {shown.map((r) => (
            <tr key={rowKey(r)} data-row={rowKey(r)}>
              {columns.map((c) => (
                <td class={c.numeric ? 'num' : undefined} data-col={c.key}>
                  {c.render(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 && rows.length > 0 && <p class="muted">No row matches the filter.</p>}
    </div>
  );
}

export type RangeChoice = '7' | '30' | '90' | 'custom';
export interface Range {
  from: string;
  to: string;
  days: number;
}
const DAY = 86_400_000;
const iso = (d: number) => new Date(d).toISOString().slice(0, 10);

// One range for the reports and the ledger, kept while the person moves between them.
let remembered: { choice: RangeChoice; from: string; to: string } = { choice: '30', from: iso(Date.now() - 30 * DAY), to: iso(Date.now()) };

export function rangeOf(choice: RangeChoice, from: string, to: string): Range {
  if (choice !== 'custom') {
    const end = Date.now();
    const days = Number(choice);
    return { from: new Date(end - days * DAY).toISOString(), to: new Date(end).toISOString(), days };
  }
  const f = Date.parse(`${from}T00:00:00Z`);
  const t = Date.parse(`${to}T00:00:00Z`) + DAY; // the "to" day is included
  return { from: new Date(f).toISOString(), to: new Date(t).toISOString(), days: Math.max(1, Math.round((t - f) / DAY)) };
}

/** Last 7/30/90 days or a custom pair of UTC dates (the "to" day included). */
export function DateRange({ onChange }: { onChange: (r: Range) => void }) {
  const [s, setState] = useState(remembered);
  // Remembered at once, not in the effect: a page opened right after the change must see it.
  const setS = (next: typeof s) => {
    remembered = next;
    setState(next);
  };
  const [problem, setProblem] = useState('');
  useEffect(() => {
    if (s.choice === 'custom' && !(s.from && s.to && s.from <= s.to)) {
      setProblem('Pick a start date on or before the end date');
      return;
    }
    setProblem('');
    onChange(rangeOf(s.choice, s.from, s.to));
  }, [s.choice, s.from, s.to]);
  return (
    <fieldset class="range">
      <legend>Period</legend>
      <label>
        Show
        <select value={s.choice} onChange={(e) => setS({ ...s, choice: (e.target as HTMLSelectElement).value as RangeChoice })}>
          <option value="7">Last 7 days</option>
          <option value="30">Last 30 days</option>
          <option value="90">Last 90 days</option>
          <option value="custom">Custom dates</option>
        </select>
      </label>
      {s.choice === 'custom' && (
        <>
          <label>
            From (UTC)
            <input type="date" value={s.from} onChange={(e) => setS({ ...s, from: (e.target as HTMLInputElement).value })} />
          </label>
          <label>
            To (UTC, included)
            <input type="date" value={s.to} onChange={(e) => setS({ ...s, to: (e.target as HTMLInputElement).value })} />
          </label>
        </>
      )}
      {problem && (
        <span class="error" role="alert">
          {problem}
        </span>
      )}
    </fieldset>
  );
}

export const COLORS = ['#1d4ed8', '#b45309', '#047857', '#7c3aed', '#be123c'];

/**
 * A uPlot chart in a figure with a text summary (canvas is not readable): `x` are seconds
 * (time) or category indexes (`labels`), `series` its lines or bars.
 */
export function Chart({
  title,
  summary,
  x,
  series,
  labels,
  bars,
  yLabel,
  testId,
}: {
  title: string;
  summary: string;
  x: number[];
  series: { label: string; values: (number | null)[]; color?: string; dash?: boolean; bars?: boolean }[];
  labels?: string[];
  bars?: boolean;
  yLabel?: string;
  testId: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const width = Math.max(320, Math.min(el.clientWidth || 720, 960));
    const categorical = !!labels;
    // Two bar series stand side by side in each category; one fills it.
    const pair = series.length === 2;
    const barPaths = (i: number) => uPlot.paths.bars!({ size: pair ? [0.35, 40] : [0.6, 60], align: pair ? (i === 0 ? -1 : 1) : 0 });
    const opts: uPlot.Options = {
      width,
      height: 260,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: categorical ? { time: false, range: [-0.5, x.length - 0.5] } : { time: true },
        y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] },
      },
      axes: [
        categorical
          ? { splits: () => x, values: (_u, splits) => splits.map((i) => labels![i] ?? ''), stroke: '#333', grid: { show: false } }
          : { stroke: '#333', grid: { stroke: '#e5e7eb' } },
        { stroke: '#333', label: yLabel, grid: { stroke: '#e5e7eb' }, size: 60 },
      ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color ?? COLORS[i % COLORS.length],
          width: 2,
          dash: s.dash ? [6, 4] : undefined,
          fill: s.bars || bars ? (s.color ?? COLORS[i % COLORS.length]) + 'cc' : undefined,
          paths: s.bars || bars ? barPaths(i) : undefined,
          points: { show: false },
        })),
      ],
    };
    const chart = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    return () => chart.destroy();
  }, [x, series, labels, bars]);
  return (
    <figure class="chart" data-testid={testId} data-points={x.length}>
      <figcaption>
        <strong>{title}</strong>
        <span class="legend" aria-hidden="true">
          {series.map((s, i) => (
            <span class={`key key-${i}${s.dash ? ' dashed' : ''}`}>{s.label}</span>
          ))}
        </span>
      </figcaption>
      <div ref={host} role="img" aria-label={`${title}: ${summary}`} />
      <p class="sr-only">{summary}</p>
    </figure>
  );
}
