import { useMemo, useState } from 'preact/hooks';
import { gql, type ApiError } from '../api';
import { Chart, DateRange, ErrorBox, type Range, Status, Table } from '../components';
import { fmtInt, fmtMoney, fmtNum, fmtPct } from '../format';
import { asApiError, useQuery } from '../hooks';

interface Point {
  start: string;
  cap: number;
  peakInUse: number;
  averageInUse: number;
  denials: number;
}
interface Level {
  credits: number;
  shareOfTime: number;
}
interface Shelfware {
  cap: number;
  peakInUse: number;
  p95InUse: number;
  averageInUse: number;
  utilization: number;
  unusedCreditHours: number;
  denials: number;
  falseDenials: number;
  suggestedCap: number;
  estimatedSavings: number | null;
  apps: {
    app: { key: string; name: string };
    leases: number;
    creditHours: number;
    peakCredits: number;
    distinctPrincipals: number;
    denials: number;
    idleCreditHours: number;
  }[];
  lapsedPrincipals: { id: string; name: string }[];
}
interface Simulation {
  cap: number;
  requests: number;
  denied: number;
  delayed: number;
  deniedCreditHours: number;
  longestWaitSeconds: number;
}

const USAGE = `query($p: ID!, $from: DateTime!, $to: DateTime!, $b: Bucket!) { poolUsage(poolId: $p, from: $from, to: $to, bucket: $b) { start cap peakInUse averageInUse denials } }`;
const HISTOGRAM = `query($p: ID!, $from: DateTime!, $to: DateTime!) { usageHistogram(poolId: $p, from: $from, to: $to) { credits shareOfTime } }`;
const SHELFWARE = `query($p: ID!, $from: DateTime!, $to: DateTime!) { shelfwareReport(poolId: $p, from: $from, to: $to) { cap peakInUse p95InUse averageInUse utilization unusedCreditHours denials falseDenials suggestedCap estimatedSavings
  apps { app { key name } leases creditHours peakCredits distinctPrincipals denials idleCreditHours } lapsedPrincipals { id name } } }`;
const SIMULATE = `query($p: ID!, $cap: Int!, $from: DateTime!, $to: DateTime!) { simulateCap(poolId: $p, cap: $cap, from: $from, to: $to) { cap requests denied delayed deniedCreditHours longestWaitSeconds } }`;

function WhatIf({ poolId, range, report }: { poolId: string; range: Range; report: Shelfware }) {
  const [cap, setCap] = useState(String(Math.max(1, report.suggestedCap)));
  const [result, setResult] = useState<Simulation>();
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  async function run(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setResult((await gql<{ simulateCap: Simulation }>(SIMULATE, { p: poolId, cap: Number(cap), from: range.from, to: range.to })).simulateCap);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <section aria-labelledby="whatif-h" class="card">
      <h2 id="whatif-h">What if the cap were…</h2>
      <p class="muted">
        Replays the window's demand (its grants and true denials) against another cap. The peak in use was {fmtInt(report.peakInUse)}; the cap is{' '}
        {fmtInt(report.cap)}.
      </p>
      <form onSubmit={run} class="inline">
        <label>
          What-if cap
          <input type="number" min={1} step={1} value={cap} onInput={(e) => setCap((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" disabled={busy || !(Number(cap) >= 1)}>
          {busy ? 'Simulating…' : 'Simulate'}
        </button>
      </form>
      {error && <ErrorBox error={error} />}
      {result && (
        <dl class="figures" data-testid="whatif-result" aria-live="polite">
          <div>
            <dt>Cap simulated</dt>
            <dd>{fmtInt(result.cap)}</dd>
          </div>
          <div>
            <dt>Requests replayed</dt>
            <dd>{fmtInt(result.requests)}</dd>
          </div>
          <div>
            <dt>Denied</dt>
            <dd data-testid="whatif-denied">{fmtInt(result.denied)}</dd>
          </div>
          <div>
            <dt>Delayed</dt>
            <dd data-testid="whatif-delayed">{fmtInt(result.delayed)}</dd>
          </div>
          <div>
            <dt>Denied credit-hours</dt>
            <dd>{fmtNum(result.deniedCreditHours)}</dd>
          </div>
          <div>
            <dt>Longest wait</dt>
            <dd>{fmtInt(result.longestWaitSeconds)} s</dd>
          </div>
        </dl>
      )}
    </section>
  );
}

export function PoolReports({ poolId, range }: { poolId: string; range: Range }) {
  const bucket = range.days <= 7 ? 'HOUR' : 'DAY';
  const vars = { p: poolId, from: range.from, to: range.to };
  const usage = useQuery(() => gql<{ poolUsage: Point[] }>(USAGE, { ...vars, b: bucket }).then((d) => d.poolUsage), [poolId, range.from, range.to]);
  const levels = useQuery(() => gql<{ usageHistogram: Level[] }>(HISTOGRAM, vars).then((d) => d.usageHistogram), [poolId, range.from, range.to]);
  const shelf = useQuery(() => gql<{ shelfwareReport: Shelfware }>(SHELFWARE, vars).then((d) => d.shelfwareReport), [poolId, range.from, range.to]);
  const usageSeries = useMemo(() => {
    const pts = usage.data ?? [];
    return {
      x: pts.map((p) => Date.parse(p.start) / 1000),
      series: [
        { label: 'Peak in use', values: pts.map((p) => p.peakInUse) },
        { label: 'Average in use', values: pts.map((p) => p.averageInUse) },
        { label: 'Cap', values: pts.map((p) => p.cap), dash: true },
      ],
    };
  }, [usage.data]);
  const levelSeries = useMemo(() => {
    const l = (levels.data ?? []).filter((v) => v.shareOfTime > 0);
    return {
      x: l.map((_, i) => i),
      labels: l.map((v) => String(v.credits)),
      series: [{ label: 'Share of time (%)', values: l.map((v) => +(v.shareOfTime * 100).toFixed(2)) }],
    };
  }, [levels.data]);
  const noUse = 'No use in this period: check a lease out with `tokenpool run --pool <name> --app <key> -- <command>`, or pick a longer period.';
  return (
    <>
      <section aria-labelledby="util-h" class="card">
        <h2 id="util-h">Utilization over time</h2>
        <Status q={usage} isEmpty={(d) => d.every((p) => p.peakInUse === 0)} empty={noUse}>
          {(d) => (
            <Chart
              testId="chart-utilization"
              title={`Credits in use per ${bucket === 'HOUR' ? 'hour' : 'day'}, with the cap`}
              summary={`${d.length} ${bucket === 'HOUR' ? 'hours' : 'days'}; highest peak ${fmtInt(Math.max(...d.map((p) => p.peakInUse)))} credits against a cap of ${fmtInt(d.at(-1)?.cap ?? 0)}.`}
              x={usageSeries.x}
              series={usageSeries.series}
              yLabel="credits"
            />
          )}
        </Status>
      </section>
      <section aria-labelledby="levels-h" class="card">
        <h2 id="levels-h">Time at each level of use</h2>
        <Status q={levels} isEmpty={(d) => d.every((v) => v.shareOfTime === 0)} empty={noUse}>
          {(d) => (
            <Chart
              testId="chart-levels"
              title="Share of the period at each number of credits in use"
              summary={d
                .filter((v) => v.shareOfTime >= 0.05)
                .map((v) => `${v.credits} credits ${fmtPct(v.shareOfTime)}`)
                .join('; ')}
              x={levelSeries.x}
              labels={levelSeries.labels}
              series={levelSeries.series}
              bars
              yLabel="% of time"
            />
          )}
        </Status>
      </section>
      <Status q={shelf}>
        {(r) => (
          <>
            <section aria-labelledby="shelf-h" class="card" data-testid="shelfware">
              <h2 id="shelf-h">Shelfware</h2>
              <dl class="figures">
                <div>
                  <dt>Cap</dt>
                  <dd>{fmtInt(r.cap)}</dd>
                </div>
                <div>
                  <dt>Suggested cap</dt>
                  <dd data-testid="suggested-cap">{fmtInt(r.suggestedCap)}</dd>
                </div>
                <div>
                  <dt>Estimated savings</dt>
                  <dd>
                    {r.estimatedSavings !== null
                      ? fmtMoney(r.estimatedSavings)
                      : r.suggestedCap >= r.cap
                        ? 'none: the demand needed the whole cap'
                        : 'none: the pool has no credit-hour price'}
                  </dd>
                </div>
                <div>
                  <dt>Peak / p95 / average in use</dt>
                  <dd>
                    {fmtInt(r.peakInUse)} / {fmtNum(r.p95InUse)} / {fmtNum(r.averageInUse)}
                  </dd>
                </div>
                <div>
                  <dt>Utilization</dt>
                  <dd>{fmtPct(r.utilization)}</dd>
                </div>
                <div>
                  <dt>Unused credit-hours</dt>
                  <dd>{fmtNum(r.unusedCreditHours)}</dd>
                </div>
                <div>
                  <dt>Denials (false)</dt>
                  <dd>
                    {fmtInt(r.denials)} ({fmtInt(r.falseDenials)})
                  </dd>
                </div>
              </dl>
              <Chart
                testId="chart-shelfware"
                title="Cap against use"
                summary={`Cap ${r.cap}, suggested cap ${r.suggestedCap}, peak ${r.peakInUse}, p95 ${fmtNum(r.p95InUse)}, average ${fmtNum(r.averageInUse)}.`}
                x={[0, 1, 2, 3, 4]}
                labels={['Cap', 'Suggested cap', 'Peak', 'p95', 'Average']}
                series={[{ label: 'credits', values: [r.cap, r.suggestedCap, r.peakInUse, +r.p95InUse.toFixed(1), +r.averageInUse.toFixed(1)] }]}
                bars
                yLabel="credits"
              />
              {r.apps.length === 0 ? (
                <p class="empty">No app was used in this period.</p>
              ) : (
                <Table
                  rows={r.apps}
                  caption="Apps in this period"
                  rowKey={(a) => a.app.key}
                  initialSort="key"
                  columns={[
                    { key: 'key', label: 'App', render: (a) => a.app.key, sort: (a) => a.app.key, filter: (a) => `${a.app.key} ${a.app.name}` },
                    { key: 'leases', label: 'Leases', render: (a) => fmtInt(a.leases), sort: (a) => a.leases, numeric: true },
                    { key: 'ch', label: 'Credit-hours', render: (a) => fmtNum(a.creditHours), sort: (a) => a.creditHours, numeric: true },
                    { key: 'idle', label: 'Idle credit-hours', render: (a) => fmtNum(a.idleCreditHours), sort: (a) => a.idleCreditHours, numeric: true },
                    { key: 'peak', label: 'Peak credits', render: (a) => fmtInt(a.peakCredits), sort: (a) => a.peakCredits, numeric: true },
                    { key: 'people', label: 'Principals', render: (a) => fmtInt(a.distinctPrincipals), sort: (a) => a.distinctPrincipals, numeric: true },
                    { key: 'denials', label: 'Denials', render: (a) => fmtInt(a.denials), sort: (a) => a.denials, numeric: true },
                  ]}
                />
              )}
              <h3>Lapsed principals</h3>
              {r.lapsedPrincipals.length === 0 ? (
                <p class="muted">Everyone who checked out in the 90 days before also did in this period.</p>
              ) : (
                <p>Checked out in the 90 days before, nothing in this period: {r.lapsedPrincipals.map((p) => p.name).join(', ')}.</p>
              )}
            </section>
            <WhatIf poolId={poolId} range={range} report={r} />
          </>
        )}
      </Status>
    </>
  );
}

export function ReportsPage({ poolId }: { poolId: string | null }) {
  const pools = useQuery(() => gql<{ pools: { id: string; name: string }[] }>('{ pools { id name } }').then((d) => d.pools), []);
  const [range, setRange] = useState<Range>();
  return (
    <section aria-labelledby="reports-h">
      <h1 id="reports-h">Reports</h1>
      <Status q={pools} isEmpty={(p) => p.length === 0} empty="No pools yet: reports need a pool with some use. Try `npm run seed:demo` for demo data.">
        {(list) => {
          const chosen = list.find((p) => p.id === poolId) ?? list[0];
          return (
            <>
              <div class="controls">
                <label>
                  Pool
                  <select value={chosen.id} onChange={(e) => (location.hash = `#/reports?pool=${encodeURIComponent((e.target as HTMLSelectElement).value)}`)}>
                    {list.map((p) => (
                      <option value={p.id}>{p.name}</option>
                    ))}
                  </select>
                </label>
                <DateRange onChange={setRange} />
              </div>
              {range && <PoolReports poolId={chosen.id} range={range} />}
            </>
          );
        }}
      </Status>
    </section>
  );
}
