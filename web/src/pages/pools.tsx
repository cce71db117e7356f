import { useEffect, useState } from 'preact/hooks';
import { gql, storedKey, type ApiError } from '../api';
import { type Column, ErrorBox, Gauge, Table } from '../components';
import { fmtInt, fmtMoney } from '../format';
import { asApiError, useQuery } from '../hooks';
import { type LivePool, onPoolChange } from '../live';

export interface PoolRow extends LivePool {
  name: string;
  creditHourPrice: number | null;
}

const POOLS = '{ pools { id name cap inUse available activeLeases queueLength creditHourPrice } }';

// The first load of the pools page starts with currentKey (main.tsx), not after it: one round trip less.
let prefetched: { key: string | null; pools: Promise<PoolRow[]> } | null = null;
export function prefetchPools(): void {
  const pools = gql<{ pools: PoolRow[] }>(POOLS).then((d) => d.pools);
  pools.catch(() => undefined);
  prefetched = { key: storedKey(), pools };
}
function loadPools(): Promise<PoolRow[]> {
  const fresh = () => gql<{ pools: PoolRow[] }>(POOLS).then((d) => d.pools);
  const first = prefetched;
  prefetched = null;
  // Only for the key it was made with; a refusal (the key was wrong) asks again with the new one.
  return first && first.key === storedKey() ? first.pools.catch(fresh) : fresh();
}

/** Keeps a list of pools current with poolsChanged. */
export function useLivePools(initial: PoolRow[] | undefined): PoolRow[] | undefined {
  const [rows, setRows] = useState(initial);
  useEffect(() => setRows(initial), [initial]);
  useEffect(
    () =>
      onPoolChange((p) =>
        setRows((list) => {
          if (!list) return list;
          const at = list.findIndex((r) => r.id === p.id);
          if (at < 0) return list;
          const next = list.slice();
          next[at] = { ...list[at], ...p };
          return next;
        }),
      ),
    [],
  );
  return rows;
}

/** What a new cap means for the current use, in words. */
export function capMeaning(pool: { cap: number; inUse: number }, cap: number): string {
  const change =
    cap > pool.cap ? `raises the cap by ${fmtInt(cap - pool.cap)}` : cap < pool.cap ? `lowers the cap by ${fmtInt(pool.cap - cap)}` : 'keeps the cap';
  if (pool.inUse > cap)
    return `This ${change}. ${fmtInt(pool.inUse)} credits are in use now, ${fmtInt(pool.inUse - cap)} over the new cap: no lease ends, but check-outs are refused (or wait) until use falls below ${fmtInt(cap)}.`;
  return `This ${change}. ${fmtInt(pool.inUse)} credits are in use now; ${fmtInt(cap - pool.inUse)} would be free for check-outs (before team reservations).`;
}

/** Change a pool's cap: a number, then a confirmation that says what it means for current use. */
export function CapEditor({ pool, onDone }: { pool: { id: string; name: string; cap: number; inUse: number }; onDone: (cap: number | null) => void }) {
  const [value, setValue] = useState(String(pool.cap));
  const [review, setReview] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const cap = Number(value);
  const valid = Number.isInteger(cap) && cap >= 0;
  async function save() {
    setBusy(true);
    try {
      await gql('mutation($id: ID!, $cap: Int!) { updatePool(id: $id, input: { cap: $cap }) { id cap } }', { id: pool.id, cap });
      onDone(cap);
    } catch (err) {
      setError(asApiError(err));
      setReview(false);
    } finally {
      setBusy(false);
    }
  }
  return (
    <div class="editor" role="group" aria-label={`Change the cap of ${pool.name}`}>
      {!review ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (valid) setReview(true);
          }}
        >
          <label>
            New cap for {pool.name}
            <input type="number" min={0} step={1} value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} autoFocus />
          </label>
          <button type="submit" disabled={!valid}>
            Review
          </button>
          <button type="button" class="secondary" onClick={() => onDone(null)}>
            Cancel
          </button>
        </form>
      ) : (
        <div class="confirm" role="alertdialog" aria-label="Confirm the new cap" aria-describedby={`meaning-${pool.id}`}>
          <p id={`meaning-${pool.id}`}>
            Cap {fmtInt(pool.cap)} → {fmtInt(cap)}. {capMeaning(pool, cap)}
          </p>
          <button type="button" onClick={save} disabled={busy} autoFocus>
            Confirm cap {fmtInt(cap)}
          </button>
          <button type="button" class="secondary" onClick={() => setReview(false)}>
            Back
          </button>
        </div>
      )}
      {error && <ErrorBox error={error} />}
    </div>
  );
}

export function PoolsPage({ admin }: { admin: boolean }) {
  const q = useQuery(loadPools, []);
  const rows = useLivePools(q.data);
  const [editing, setEditing] = useState<string | null>(null);
  const [notice, setNotice] = useState('');
  const columns: Column<PoolRow>[] = [
    {
      key: 'name',
      label: 'Pool',
      render: (p) => <a href={`#/pools/${encodeURIComponent(p.id)}`}>{p.name}</a>,
      sort: (p) => p.name.toLowerCase(),
      filter: (p) => p.name,
    },
    { key: 'cap', label: 'Cap', render: (p) => fmtInt(p.cap), sort: (p) => p.cap, numeric: true },
    {
      key: 'inUse',
      label: 'In use',
      render: (p) => <Gauge value={p.inUse} max={p.cap} label={`${p.name}: credits in use of ${p.cap}`} />,
      sort: (p) => p.inUse / Math.max(1, p.cap),
    },
    { key: 'available', label: 'Available', render: (p) => fmtInt(p.available), sort: (p) => p.available, numeric: true },
    { key: 'queue', label: 'Queue', render: (p) => fmtInt(p.queueLength), sort: (p) => p.queueLength, numeric: true },
    { key: 'leases', label: 'Active leases', render: (p) => fmtInt(p.activeLeases), sort: (p) => p.activeLeases, numeric: true },
    { key: 'price', label: 'Credit-hour price', render: (p) => fmtMoney(p.creditHourPrice), sort: (p) => p.creditHourPrice ?? -1, numeric: true },
  ];
  if (admin)
    columns.push({
      key: 'actions',
      label: 'Actions',
      render: (p) =>
        editing === p.id ? (
          <CapEditor
            pool={p}
            onDone={(cap) => {
              setEditing(null);
              if (cap !== null) setNotice(`The cap of ${p.name} is now ${fmtInt(cap)}.`);
            }}
          />
        ) : (
          <button type="button" class="secondary" onClick={() => setEditing(p.id)} aria-label={`Change cap of ${p.name}`}>
            Change cap
          </button>
        ),
    });
  return (
    <section aria-labelledby="pools-h">
      <h1 id="pools-h">Pools</h1>
      <p class="muted">Figures move live as leases are checked out and in. {admin ? 'Change a cap with the button in its row.' : 'Read-only (VIEWER key).'}</p>
      <p role="status" class="notice">
        {notice}
      </p>
      {q.error && <ErrorBox error={q.error} retry={q.reload} />}
      {!q.error && !rows && (
        <p class="muted" role="status">
          Loading…
        </p>
      )}
      {rows && rows.length === 0 && (
        <p class="empty">
          No pools yet: an ADMIN creates one with{' '}
          <code>
            mutation {'{'} createPool(input: {'{'} name: "engineering", cap: 100 {'}'}) {'{'} id {'}'} {'}'}
          </code>{' '}
          or <code>npm run seed:demo</code> for demo data.
        </p>
      )}
      {rows && rows.length > 0 && (
        <Table rows={rows} columns={columns} caption="Pools" rowKey={(p) => p.id} initialSort="name" filterLabel="Filter pools by name" />
      )}
    </section>
  );
}
