import { useState } from 'preact/hooks';
import { download, gql, type ApiError } from '../api';
import { Chart, DateRange, ErrorBox, type Range, Status, Table } from '../components';
import { fmtInt, fmtMoney, fmtNum, fmtPct } from '../format';
import { asApiError, useQuery } from '../hooks';

interface Slice {
  orgUnitKind: 'CHANGE' | 'GOING_CONCERN';
  computeTokens: number;
  computeCost: number;
  licenseCreditHours: number;
  licenseCost: number;
  workUnits: number;
  acceptedWorkUnits: number;
}
interface Burn {
  slices: Slice[];
  goingConcernShare: number;
  outcomeLinkedShare: number;
  maturity: string;
}
interface OutcomeCost {
  process: string;
  workUnits: number;
  acceptedWorkUnits: number;
  totalCost: number;
  costPerAcceptedOutcome: number | null;
}
interface Coverage {
  totalCost: number;
  attributedCost: number;
  coverage: number;
}

const LEDGER = `query($from: DateTime!, $to: DateTime!) {
  burnReport(from: $from, to: $to) { slices { orgUnitKind computeTokens computeCost licenseCreditHours licenseCost workUnits acceptedWorkUnits } goingConcernShare outcomeLinkedShare maturity }
  costPerOutcome(from: $from, to: $to) { process workUnits acceptedWorkUnits totalCost costPerAcceptedOutcome }
  attributionCoverage(from: $from, to: $to) { totalCost attributedCost coverage } }`;

const KIND_LABEL = { CHANGE: 'Change organisation', GOING_CONCERN: 'Going concern' } as const;
const MATURITY = { INNOVATION_BURN: 'innovation burn', OPERATIONAL_BURN: 'operational burn', PRODUCTIVE_BURN: 'productive burn' } as Record<string, string>;

function Downloads({ range }: { range: Range }) {
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState('');
  const [done, setDone] = useState('');
  async function get(kind: 'ledger' | 'focus') {
    setBusy(kind);
    setError(undefined);
    try {
      const q = new URLSearchParams({ from: range.from, to: range.to });
      const name = `${kind}-${range.from.slice(0, 10)}-${range.to.slice(0, 10)}.csv`;
      await download(`/exports/${kind}.csv?${q}`, name);
      setDone(`Saved ${name}.`);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy('');
    }
  }
  return (
    <section aria-labelledby="dl-h" class="card">
      <h2 id="dl-h">Exports</h2>
      <p class="muted">The ledger row by row, and the FinOps FOCUS 1.2 daily cost rows, for the period above.</p>
      <button type="button" onClick={() => get('ledger')} disabled={!!busy}>
        {busy === 'ledger' ? 'Downloading…' : 'Download ledger.csv'}
      </button>{' '}
      <button type="button" onClick={() => get('focus')} disabled={!!busy}>
        {busy === 'focus' ? 'Downloading…' : 'Download focus.csv (FOCUS)'}
      </button>
      <p role="status">{done}</p>
      {error && <ErrorBox error={error} />}
    </section>
  );
}

function LedgerViews({ range }: { range: Range }) {
  const q = useQuery(
    () => gql<{ burnReport: Burn; costPerOutcome: OutcomeCost[]; attributionCoverage: Coverage }>(LEDGER, { from: range.from, to: range.to }),
    [range.from, range.to],
  );
  const empty =
    'No cost recorded in this period: record compute usage (recordComputeUsage, OTLP spans) or check leases out from a priced pool, or pick a longer period.';
  return (
    <Status q={q} isEmpty={(d) => d.attributionCoverage.totalCost === 0} empty={empty}>
      {(d) => {
        const kinds: Slice['orgUnitKind'][] = ['CHANGE', 'GOING_CONCERN'];
        const slice = (k: Slice['orgUnitKind']) => d.burnReport.slices.find((s) => s.orgUnitKind === k);
        const withCost = d.costPerOutcome.filter((o) => o.costPerAcceptedOutcome !== null);
        return (
          <>
            <section aria-labelledby="burn-h" class="card">
              <h2 id="burn-h">Burn: change organisation vs going concern</h2>
              <p>
                {fmtPct(d.burnReport.goingConcernShare)} of the cost was spent in the going concern; {fmtPct(d.burnReport.outcomeLinkedShare)} of that on
                accepted work with a value: <strong>{MATURITY[d.burnReport.maturity] ?? d.burnReport.maturity}</strong>.
              </p>
              <Chart
                testId="chart-burn"
                title="Cost by kind of work"
                summary={kinds
                  .map((k) => `${KIND_LABEL[k]}: compute ${fmtMoney(slice(k)?.computeCost ?? 0)}, licenses ${fmtMoney(slice(k)?.licenseCost ?? 0)}`)
                  .join('; ')}
                x={[0, 1]}
                labels={kinds.map((k) => KIND_LABEL[k])}
                series={[
                  { label: 'Compute cost', values: kinds.map((k) => +(slice(k)?.computeCost ?? 0).toFixed(2)) },
                  { label: 'License cost', values: kinds.map((k) => +(slice(k)?.licenseCost ?? 0).toFixed(2)) },
                ]}
                bars
                yLabel="cost"
              />
              <Table
                rows={d.burnReport.slices}
                caption="Burn by kind"
                rowKey={(s) => s.orgUnitKind}
                columns={[
                  { key: 'kind', label: 'Kind', render: (s) => KIND_LABEL[s.orgUnitKind], sort: (s) => s.orgUnitKind },
                  { key: 'tokens', label: 'Compute tokens', render: (s) => fmtInt(s.computeTokens), sort: (s) => s.computeTokens, numeric: true },
                  { key: 'cc', label: 'Compute cost', render: (s) => fmtMoney(s.computeCost), sort: (s) => s.computeCost, numeric: true },
                  { key: 'ch', label: 'Credit-hours', render: (s) => fmtNum(s.licenseCreditHours), sort: (s) => s.licenseCreditHours, numeric: true },
                  { key: 'lc', label: 'License cost', render: (s) => fmtMoney(s.licenseCost), sort: (s) => s.licenseCost, numeric: true },
                  {
                    key: 'wu',
                    label: 'Work units (accepted)',
                    render: (s) => `${fmtInt(s.workUnits)} (${fmtInt(s.acceptedWorkUnits)})`,
                    sort: (s) => s.workUnits,
                    numeric: true,
                  },
                ]}
              />
            </section>
            <section aria-labelledby="outcome-h" class="card">
              <h2 id="outcome-h">Cost per accepted outcome, by process</h2>
              {withCost.length === 0 ? (
                <p class="empty">No accepted outcome in this period: record outcomes with recordOutcome (ACCEPTED) on work units.</p>
              ) : (
                <Chart
                  testId="chart-outcomes"
                  title="Cost per accepted outcome"
                  summary={withCost.map((o) => `${o.process || '(no process)'} ${fmtMoney(o.costPerAcceptedOutcome)}`).join('; ')}
                  x={withCost.map((_, i) => i)}
                  labels={withCost.map((o) => o.process || '(none)')}
                  series={[{ label: 'Cost per accepted outcome', values: withCost.map((o) => +(o.costPerAcceptedOutcome ?? 0).toFixed(2)) }]}
                  bars
                  yLabel="cost"
                />
              )}
              <Table
                rows={d.costPerOutcome}
                caption="Processes"
                rowKey={(o) => o.process}
                initialSort="process"
                filterLabel="Filter processes"
                columns={[
                  { key: 'process', label: 'Process', render: (o) => o.process || '(none)', sort: (o) => o.process, filter: (o) => o.process },
                  { key: 'wu', label: 'Work units', render: (o) => fmtInt(o.workUnits), sort: (o) => o.workUnits, numeric: true },
                  { key: 'acc', label: 'Accepted', render: (o) => fmtInt(o.acceptedWorkUnits), sort: (o) => o.acceptedWorkUnits, numeric: true },
                  { key: 'total', label: 'Total cost', render: (o) => fmtMoney(o.totalCost), sort: (o) => o.totalCost, numeric: true },
                  {
                    key: 'per',
                    label: 'Per accepted outcome',
                    render: (o) => fmtMoney(o.costPerAcceptedOutcome),
                    sort: (o) => o.costPerAcceptedOutcome ?? Infinity,
                    numeric: true,
                  },
                ]}
              />
            </section>
            <section aria-labelledby="cov-h" class="card" data-testid="coverage">
              <h2 id="cov-h">Attribution coverage</h2>
              <p>
                <meter
                  min={0}
                  max={1}
                  value={d.attributionCoverage.coverage}
                  aria-label="Attribution coverage"
                  aria-valuenow={Math.round(d.attributionCoverage.coverage * 100)}
                />{' '}
                <strong>{fmtPct(d.attributionCoverage.coverage)}</strong> of the cost ({fmtMoney(d.attributionCoverage.attributedCost)} of{' '}
                {fmtMoney(d.attributionCoverage.totalCost)}) is on work units with an owner and a decided outcome.
              </p>
            </section>
          </>
        );
      }}
    </Status>
  );
}

export function LedgerPage() {
  const [range, setRange] = useState<Range>();
  return (
    <section aria-labelledby="ledger-h">
      <h1 id="ledger-h">Ledger</h1>
      <div class="controls">
        <DateRange onChange={setRange} />
      </div>
      {range && (
        <>
          <LedgerViews range={range} />
          <Downloads range={range} />
        </>
      )}
    </section>
  );
}
