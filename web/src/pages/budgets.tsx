import { useEffect, useState } from 'preact/hooks';
import { gql, type ApiError } from '../api';
import { type Column, ErrorBox, Table } from '../components';
import { fmtMoneyFine, fmtPct } from '../format';
import { asApiError, useQuery } from '../hooks';

type Scope = 'ORGANIZATION' | 'TEAM' | 'PRINCIPAL' | 'WORK_UNIT';
type Period = 'DAY' | 'MONTH' | 'TOTAL';
interface Budget {
  id: string;
  name: string;
  scope: Scope;
  team: string | null;
  principal: { id: string; name: string } | null;
  workUnit: { id: string; externalRef: string } | null;
  period: Period;
  limit: number;
  spent: number;
  reserved: number;
  remaining: number;
  periodStart: string | null;
}
interface Choices {
  principals: { id: string; name: string; team: string | null }[];
  workUnits: { id: string; externalRef: string }[];
}

const FIELDS = 'id name scope team principal { id name } workUnit { id externalRef } period limit spent reserved remaining periodStart';
const BUDGETS = `{ computeBudgets { ${FIELDS} } }`;
const CHOICES = '{ principals { id name team } workUnits(first: 100) { id externalRef } }';
/** Budgets move as agents reserve and settle: read again this often while the page is visible. */
const REFRESH_MS = 5000;

const SCOPE_LABEL: Record<Scope, string> = { ORGANIZATION: 'Organization', TEAM: 'Team', PRINCIPAL: 'Principal', WORK_UNIT: 'Work unit' };
const PERIOD_LABEL: Record<Period, string> = { DAY: 'Day', MONTH: 'Month', TOTAL: 'Total' };

function scopeText(b: Budget): string {
  const what = b.scope === 'TEAM' ? b.team : b.scope === 'PRINCIPAL' ? b.principal?.name : b.scope === 'WORK_UNIT' ? b.workUnit?.externalRef : null;
  return what ? `${SCOPE_LABEL[b.scope]}: ${what}` : SCOPE_LABEL[b.scope];
}

function periodText(b: Budget): string {
  if (b.period === 'TOTAL') return 'Total (never resets)';
  return `${PERIOD_LABEL[b.period]}, from ${b.periodStart ? b.periodStart.slice(0, 10) : '—'} UTC`;
}

const share = (part: number, limit: number) => (limit > 0 ? Math.min(1, part / limit) : part > 0 ? 1 : 0);

/** Spent and reserved against the limit: two segments (solid, striped) and the same figures in words. */
function BudgetBar({ b }: { b: Budget }) {
  const spent = share(b.spent, b.limit);
  const reserved = Math.min(1 - spent, share(b.reserved, b.limit));
  const used = b.limit > 0 ? (b.spent + b.reserved) / b.limit : b.spent + b.reserved > 0 ? Infinity : 0;
  const words = Number.isFinite(used) ? `${fmtPct(used)} used` : 'over a zero limit';
  return (
    <span class="budget">
      <span
        class="budget-bar"
        role="img"
        aria-label={`${b.name}: ${fmtMoneyFine(b.spent)} spent and ${fmtMoneyFine(b.reserved)} reserved of ${fmtMoneyFine(b.limit)}, ${words}`}
      >
        <span class="seg-spent" style={{ width: `${spent * 100}%` }} />
        <span class="seg-reserved" style={{ width: `${reserved * 100}%` }} />
      </span>
      <span class={used >= 1 ? 'budget-used full' : 'budget-used'} aria-hidden="true">
        {words}
        {used >= 1 && ' (full)'}
      </span>
    </span>
  );
}

function CreateForm({ onDone }: { onDone: (name: string) => void }) {
  const choices = useQuery(() => gql<Choices>(CHOICES), []);
  const [f, setF] = useState({ name: '', scope: 'ORGANIZATION' as Scope, team: '', principalId: '', workUnitId: '', period: 'MONTH' as Period, limit: '' });
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement | HTMLSelectElement).value });
  const principals = choices.data?.principals ?? [];
  const units = choices.data?.workUnits ?? [];
  const teams = [...new Set(principals.map((p) => p.team).filter((t): t is string => !!t))].sort();
  async function save(e: Event) {
    e.preventDefault();
    setBusy(true);
    try {
      const name = f.name.trim();
      await gql('mutation($input: CreateComputeBudgetInput!) { createComputeBudget(input: $input) { id } }', {
        input: {
          name,
          scope: f.scope,
          period: f.period,
          limit: Number(f.limit),
          team: f.scope === 'TEAM' ? f.team.trim() : null,
          principalId: f.scope === 'PRINCIPAL' ? f.principalId || principals[0]?.id || null : null,
          workUnitId: f.scope === 'WORK_UNIT' ? f.workUnitId || units[0]?.id || null : null,
        },
      });
      setF({ ...f, name: '', limit: '' });
      setError(undefined);
      onDone(name);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="editor" onSubmit={save} aria-label="Create a budget">
      <label>
        Name
        <input required maxLength={200} value={f.name} onInput={set('name')} />
      </label>
      <label>
        Scope
        <select aria-label="Scope" value={f.scope} onChange={set('scope')}>
          <option value="ORGANIZATION">Organization</option>
          <option value="TEAM">Team</option>
          <option value="PRINCIPAL">Principal</option>
          <option value="WORK_UNIT">Work unit</option>
        </select>
      </label>
      {f.scope === 'TEAM' && (
        <label>
          Team
          <input required list="budget-teams" value={f.team} onInput={set('team')} />
          <datalist id="budget-teams">
            {teams.map((t) => (
              <option value={t} />
            ))}
          </datalist>
        </label>
      )}
      {f.scope === 'PRINCIPAL' && (
        <label>
          Principal
          <select aria-label="Principal" required value={f.principalId || principals[0]?.id} onChange={set('principalId')}>
            {principals.map((p) => (
              <option value={p.id}>{p.name}</option>
            ))}
          </select>
        </label>
      )}
      {f.scope === 'WORK_UNIT' && (
        <label>
          Work unit (newest 100)
          <select aria-label="Work unit" required value={f.workUnitId || units[0]?.id} onChange={set('workUnitId')}>
            {units.map((u) => (
              <option value={u.id}>{u.externalRef}</option>
            ))}
          </select>
        </label>
      )}
      <label>
        Period
        <select aria-label="Period" value={f.period} onChange={set('period')}>
          <option value="DAY">Day (UTC)</option>
          <option value="MONTH">Month (UTC)</option>
          <option value="TOTAL">Total (never resets)</option>
        </select>
      </label>
      <label>
        Limit
        <input required type="number" min={0} step="any" value={f.limit} onInput={set('limit')} />
      </label>
      <button type="submit" disabled={busy}>
        Create budget
      </button>
      {choices.error && <ErrorBox error={choices.error} retry={choices.reload} />}
      {error && <ErrorBox error={error} />}
    </form>
  );
}

function BudgetEditor({ budget, onDone }: { budget: Budget; onDone: (changed: boolean) => void }) {
  const [f, setF] = useState({ name: budget.name, limit: String(budget.limit) });
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  async function save(e: Event) {
    e.preventDefault();
    setBusy(true);
    try {
      await gql('mutation($id: ID!, $input: UpdateComputeBudgetInput!) { updateComputeBudget(id: $id, input: $input) { id } }', {
        id: budget.id,
        input: { name: f.name.trim(), limit: Number(f.limit) },
      });
      onDone(true);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="editor" onSubmit={save} aria-label={`Edit budget ${budget.name}`}>
      <label>
        Name
        <input required maxLength={200} value={f.name} onInput={(e) => setF({ ...f, name: (e.target as HTMLInputElement).value })} autoFocus />
      </label>
      <label>
        Limit
        <input required type="number" min={0} step="any" value={f.limit} onInput={(e) => setF({ ...f, limit: (e.target as HTMLInputElement).value })} />
      </label>
      <button type="submit" disabled={busy}>
        Save budget
      </button>
      <button type="button" class="secondary" onClick={() => onDone(false)}>
        Cancel
      </button>
      {error && <ErrorBox error={error} />}
    </form>
  );
}

/** Calls `tick` every `ms` while the tab is visible, and at once when it becomes visible again. */
function useRefresh(tick: () => void, ms: number) {
  useEffect(() => {
    const timer = setInterval(() => document.visibilityState === 'visible' && tick(), ms);
    const onShow = () => document.visibilityState === 'visible' && tick();
    document.addEventListener('visibilitychange', onShow);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', onShow);
    };
  }, [tick, ms]);
}

export function BudgetsPage({ admin }: { admin: boolean }) {
  const q = useQuery(() => gql<{ computeBudgets: Budget[] }>(BUDGETS).then((d) => d.computeBudgets), []);
  useRefresh(q.reload, REFRESH_MS);
  const [editing, setEditing] = useState<string | null>(null);
  const [notice, setNotice] = useState('');
  const [error, setError] = useState<ApiError>();
  async function remove(b: Budget) {
    if (!confirm(`Delete the budget ${b.name}? Reservations stop counting against it; open ones keep their other budgets.`)) return;
    try {
      await gql('mutation($id: ID!) { deleteComputeBudget(id: $id) }', { id: b.id });
      setError(undefined);
      setNotice(`Deleted the budget ${b.name}.`);
      q.reload();
    } catch (err) {
      setError(asApiError(err));
    }
  }
  const money = (pick: (b: Budget) => number) => (b: Budget) => fmtMoneyFine(pick(b));
  const columns: Column<Budget>[] = [
    { key: 'name', label: 'Budget', render: (b) => b.name, sort: (b) => b.name.toLowerCase(), filter: (b) => `${b.name} ${scopeText(b)}` },
    { key: 'scope', label: 'Scope', render: scopeText, sort: scopeText },
    { key: 'period', label: 'Period', render: periodText, sort: (b) => b.period },
    { key: 'limit', label: 'Limit', render: money((b) => b.limit), sort: (b) => b.limit, numeric: true },
    { key: 'spent', label: 'Spent', render: money((b) => b.spent), sort: (b) => b.spent, numeric: true },
    { key: 'reserved', label: 'Reserved', render: money((b) => b.reserved), sort: (b) => b.reserved, numeric: true },
    { key: 'remaining', label: 'Remaining', render: money((b) => b.remaining), sort: (b) => b.remaining, numeric: true },
    {
      key: 'use',
      label: 'Use of the limit',
      render: (b) => <BudgetBar b={b} />,
      sort: (b) => (b.limit > 0 ? (b.spent + b.reserved) / b.limit : Infinity),
    },
  ];
  if (admin)
    columns.push({
      key: 'actions',
      label: 'Actions',
      render: (b) =>
        editing === b.id ? (
          <BudgetEditor
            budget={b}
            onDone={(changed) => {
              setEditing(null);
              if (changed) {
                setNotice(`Saved the budget ${b.name}.`);
                q.reload();
              }
            }}
          />
        ) : (
          <span class="inline">
            <button type="button" class="secondary" onClick={() => setEditing(b.id)} aria-label={`Edit budget ${b.name}`}>
              Edit
            </button>
            <button type="button" class="danger" onClick={() => remove(b)} aria-label={`Delete budget ${b.name}`}>
              Delete
            </button>
          </span>
        ),
    });
  const rows = q.data;
  return (
    <section aria-labelledby="budgets-h">
      <h1 id="budgets-h">Budgets</h1>
      <p class="muted">
        Compute spending limits in the organization's currency. Spent counts recorded usage in the current period; reserved is held by open reservations.
        Figures refresh every {REFRESH_MS / 1000} s. {admin ? '' : 'Read-only (VIEWER key).'}
      </p>
      <p class="muted budget-legend" aria-hidden="true">
        <span class="key-spent">spent</span> <span class="key-reserved">reserved</span> <span class="key-free">remaining</span>
      </p>
      <p role="status" class="notice">
        {notice}
      </p>
      {q.error && <ErrorBox error={q.error} retry={q.reload} />}
      {error && <ErrorBox error={error} />}
      {!q.error && !rows && (
        <p class="muted" role="status">
          Loading…
        </p>
      )}
      {rows && rows.length === 0 && (
        <p class="empty">No budgets yet: {admin ? 'create one below.' : 'an ADMIN creates them on this page or with the createComputeBudget mutation.'}</p>
      )}
      {rows && rows.length > 0 && (
        <Table rows={rows} columns={columns} caption="Budgets" rowKey={(b) => b.id} initialSort="name" filterLabel="Filter budgets" />
      )}
      {admin && (
        <>
          <h2>New budget</h2>
          <CreateForm
            onDone={(name) => {
              setNotice(`Created the budget ${name}.`);
              q.reload();
            }}
          />
        </>
      )}
    </section>
  );
}
