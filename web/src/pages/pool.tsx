import { useEffect, useRef, useState } from 'preact/hooks';
import { gql, type ApiError } from '../api';
import { type Column, ErrorBox, Gauge, Status, Table } from '../components';
import { fmtAge, fmtInt, fmtMoney, fmtTime } from '../format';
import { asApiError, useQuery } from '../hooks';
import { onPoolChange } from '../live';
import { CapEditor } from './pools';

interface App {
  id: string;
  key: string;
  name: string;
  vendor: string | null;
  cost: number;
  shareScope: string;
  lingerSeconds: number;
  minimumChargeSeconds: number;
  /** Feature names of other license servers (FlexNet, RLM) that license-log imports match to this app exactly. */
  externalNames: string[];
}
interface Pool {
  id: string;
  name: string;
  cap: number;
  inUse: number;
  available: number;
  activeLeases: number;
  queueLength: number;
  defaultLeaseSeconds: number;
  maxLeaseSeconds: number;
  creditHourPrice: number | null;
  maxBorrowHours: number;
  apps: App[];
}
interface Limit {
  team: string;
  reserved: number;
  max: number | null;
}
interface Lease {
  id: string;
  state: string;
  credits: number;
  host: string | null;
  acquiredAt: string;
  expiresAt: string;
  /** Set on a borrowed lease: no heartbeat, its credits held until then (even once revoked) or its return. */
  borrowedUntil: string | null;
  app: { key: string };
  principal: { name: string; team: string | null };
}
interface Denial {
  id: string;
  at: string;
  lastAt: string;
  count: number;
  reason: string;
  requested: number;
  available: number;
  team: string | null;
  app: { key: string };
  principal: { name: string };
}

const POOL = `query($id: ID!) { pool(id: $id) { id name cap inUse available activeLeases queueLength defaultLeaseSeconds maxLeaseSeconds creditHourPrice maxBorrowHours
  apps { id key name vendor cost shareScope lingerSeconds minimumChargeSeconds externalNames } } groupLimits(poolId: $id) { team reserved max } }`;
const LEASE_FIELDS = 'id state credits host acquiredAt expiresAt borrowedUntil app { key } principal { name team }';
// Active leases, and the newest revoked ones: a revoked borrowed lease holds its credits until its borrowedUntil.
const LEASES = `query($id: ID!) { active: leases(poolId: $id, state: ACTIVE, first: 100) { ${LEASE_FIELDS} }
  revoked: leases(poolId: $id, state: REVOKED, first: 100) { ${LEASE_FIELDS} } }`;
const DENIALS = `query($id: ID!, $from: DateTime!, $to: DateTime!, $after: String) { denials(poolId: $id, from: $from, to: $to, first: 100, after: $after) { id at lastAt count reason requested available team app { key } principal { name } } }`;

/** Denials answer oldest first, 100 at a time: the week's pages (up to 500 denials), newest first. */
async function recentDenials(id: string, from: string, to: string): Promise<Denial[]> {
  const rows: Denial[] = [];
  for (;;) {
    const page = (await gql<{ denials: Denial[] }>(DENIALS, { id, from, to, after: rows.at(-1)?.id ?? null })).denials;
    rows.push(...page);
    if (page.length < 100 || rows.length >= 500) return rows.reverse();
  }
}

/** The longest borrow a pool may allow, in hours (30 days); the server refuses more. */
const MAX_BORROW_HOURS = 720;

/** A revoked borrowed lease whose borrowedUntil is still ahead: its credits stay held until then. */
const heldAfterRevoke = (l: Lease, now: number) => l.state === 'REVOKED' && !!l.borrowedUntil && Date.parse(l.borrowedUntil) > now;

const borrowingText = (hours: number): string => (hours === 0 ? 'off' : `up to ${fmtInt(hours)} h`);

/** How long a lease holds its credits, in words: a borrow until its borrowedUntil, any other while heartbeats come. */
function LeaseUntil({ lease, now }: { lease: Lease; now: number }) {
  if (lease.borrowedUntil) {
    const until = fmtTime(lease.borrowedUntil);
    if (heldAfterRevoke(lease, now)) return <span class="badge held">Revoked; credits stay held until {until}</span>;
    if (lease.state === 'ACTIVE') return <span class="badge borrowed">Borrowed until {until}</span>;
    return <span class="muted">Borrowed until {until}</span>;
  }
  return lease.state === 'ACTIVE' ? <span class="muted">While heartbeats come</span> : <>—</>;
}

/** Change how long a pool lets a lease be borrowed: 0 (off) to 720 hours. */
function BorrowEditor({ pool, onDone }: { pool: Pool; onDone: (hours: number | null) => void }) {
  const [value, setValue] = useState(String(pool.maxBorrowHours));
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const hours = Number(value);
  const valid = value.trim() !== '' && Number.isInteger(hours) && hours >= 0 && hours <= MAX_BORROW_HOURS;
  async function save(e: Event) {
    e.preventDefault();
    if (!valid) return;
    setBusy(true);
    try {
      await gql('mutation($id: ID!, $hours: Int!) { updatePool(id: $id, input: { maxBorrowHours: $hours }) { id maxBorrowHours } }', { id: pool.id, hours });
      onDone(hours);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="editor" onSubmit={save} noValidate aria-label={`Change borrowing of ${pool.name}`}>
      <label>
        Longest borrow (hours, 0 = off)
        <input
          type="number"
          min={0}
          max={MAX_BORROW_HOURS}
          step={1}
          value={value}
          aria-invalid={!valid}
          aria-describedby={valid ? undefined : `borrow-problem-${pool.id}`}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          autoFocus
        />
      </label>
      <button type="submit" disabled={!valid || busy}>
        Save borrowing
      </button>
      <button type="button" class="secondary" onClick={() => onDone(null)}>
        Cancel
      </button>
      {!valid && (
        <span class="error" role="alert" id={`borrow-problem-${pool.id}`}>
          Enter a whole number of hours from 0 (borrowing off) to {MAX_BORROW_HOURS} (30 days).
        </span>
      )}
      {error && <ErrorBox error={error} />}
    </form>
  );
}

/** "a, b ,, c" as the names a, b and c: commas separate, blanks around a name are dropped (a feature name has none). */
export function parseNames(text: string): string[] {
  return text
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
}

function AppEditor({ app, onDone }: { app: App; onDone: (changed: boolean) => void }) {
  const [f, setF] = useState({
    externalNames: app.externalNames.join(', '),
    name: app.name,
    vendor: app.vendor ?? '',
    cost: String(app.cost),
    lingerSeconds: String(app.lingerSeconds),
    minimumChargeSeconds: String(app.minimumChargeSeconds),
  });
  const [error, setError] = useState<ApiError>();
  const field = (k: keyof typeof f, label: string, type = 'text') => (
    <label>
      {label}
      <input type={type} min={type === 'number' ? 0 : undefined} value={f[k]} onInput={(e) => setF({ ...f, [k]: (e.target as HTMLInputElement).value })} />
    </label>
  );
  async function save(e: Event) {
    e.preventDefault();
    try {
      await gql('mutation($id: ID!, $input: UpdateAppInput!) { updateApp(id: $id, input: $input) { id } }', {
        id: app.id,
        input: {
          name: f.name,
          vendor: f.vendor || null,
          cost: Number(f.cost),
          lingerSeconds: Number(f.lingerSeconds),
          minimumChargeSeconds: Number(f.minimumChargeSeconds),
          externalNames: parseNames(f.externalNames),
        },
      });
      onDone(true);
    } catch (err) {
      setError(asApiError(err));
    }
  }
  return (
    <form class="editor" onSubmit={save} aria-label={`Edit app ${app.key}`}>
      {field('name', 'Name')}
      {field('vendor', 'Vendor')}
      {field('cost', 'Cost (credits)', 'number')}
      {field('lingerSeconds', 'Linger (s)', 'number')}
      {field('minimumChargeSeconds', 'Minimum charge (s)', 'number')}
      <label>
        External names (comma-separated)
        <input
          value={f.externalNames}
          spellcheck={false}
          aria-describedby={`external-help-${app.id}`}
          onInput={(e) => setF({ ...f, externalNames: (e.target as HTMLInputElement).value })}
        />
      </label>
      <span class="muted" id={`external-help-${app.id}`}>
        FlexNet or RLM feature names of this app, matched exactly by license-log imports (without any, the feature named like the key matches).
      </span>
      <button type="submit">Save app</button>
      <button type="button" class="secondary" onClick={() => onDone(false)}>
        Cancel
      </button>
      {error && <ErrorBox error={error} />}
    </form>
  );
}

function LimitForm({ poolId, onDone }: { poolId: string; onDone: () => void }) {
  const [f, setF] = useState({ team: '', reserved: '0', max: '' });
  const [error, setError] = useState<ApiError>();
  async function save(e: Event) {
    e.preventDefault();
    try {
      await gql('mutation($input: GroupLimitInput!) { setGroupLimit(input: $input) { team } }', {
        input: { poolId, team: f.team.trim(), reserved: Number(f.reserved), max: f.max === '' ? null : Number(f.max) },
      });
      setF({ team: '', reserved: '0', max: '' });
      setError(undefined);
      onDone();
    } catch (err) {
      setError(asApiError(err));
    }
  }
  return (
    <form class="editor" onSubmit={save} aria-label="Set a team limit">
      <label>
        Team
        <input value={f.team} required onInput={(e) => setF({ ...f, team: (e.target as HTMLInputElement).value })} />
      </label>
      <label>
        Reserved credits
        <input type="number" min={0} value={f.reserved} onInput={(e) => setF({ ...f, reserved: (e.target as HTMLInputElement).value })} />
      </label>
      <label>
        Ceiling (empty: none)
        <input type="number" min={0} value={f.max} onInput={(e) => setF({ ...f, max: (e.target as HTMLInputElement).value })} />
      </label>
      <button type="submit">Set team limit</button>
      {error && <ErrorBox error={error} />}
    </form>
  );
}

export function PoolPage({ id, admin }: { id: string; admin: boolean }) {
  const q = useQuery(() => gql<{ pool: Pool | null; groupLimits: Limit[] }>(POOL, { id }), [id]);
  const leasesQ = useQuery(
    () => gql<{ active: Lease[]; revoked: Lease[] }>(LEASES, { id }).then((d) => [...d.active, ...d.revoked.filter((l) => heldAfterRevoke(l, Date.now()))]),
    [id],
  );
  const denialsQ = useQuery(() => {
    const to = new Date();
    const from = new Date(to.getTime() - 7 * 86_400_000);
    return recentDenials(id, from.toISOString(), to.toISOString());
  }, [id]);
  const [live, setLive] = useState<Partial<Pool>>({});
  const [ended, setEnded] = useState<Record<string, Lease>>({});
  const [editingApp, setEditingApp] = useState<string | null>(null);
  const [editingCap, setEditingCap] = useState(false);
  const [editingBorrow, setEditingBorrow] = useState(false);
  const [notice, setNotice] = useState('');
  const [error, setError] = useState<ApiError>();
  const [now, setNow] = useState(Date.now());
  const refresh = useRef<ReturnType<typeof setTimeout>>();

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 5000);
    const off = onPoolChange((p) => {
      if (p.id !== id) return;
      setLive(p);
      clearTimeout(refresh.current);
      refresh.current = setTimeout(() => leasesQ.reload(), 800);
    });
    return () => (clearInterval(t), off(), clearTimeout(refresh.current));
  }, [id]);
  useEffect(() => setLive({}), [q.data]);

  async function revoke(lease: Lease) {
    // A borrowed lease's tool may run offline: revoking it lists it as revoked, but frees nothing before its borrowedUntil.
    const until = lease.borrowedUntil ? fmtTime(lease.borrowedUntil) : null;
    const who = `${lease.principal.name} on ${lease.host ?? 'no host'} (${lease.app.key})`;
    if (
      until &&
      !confirm(
        `Revoke the borrowed lease of ${who}? It reads REVOKED and joins the revocation list at once, but its ${fmtInt(lease.credits)} credits stay held until ${until} (its borrowedUntil): the tool may run offline until then.`,
      )
    )
      return;
    try {
      const r = await gql<{ revokeLease: { id: string; state: string } }>(
        'mutation($id: ID!) { revokeLease(leaseId: $id, reason: "revoked from the dashboard") { id state } }',
        { id: lease.id },
      );
      setEnded((e) => ({ ...e, [r.revokeLease.id]: { ...lease, state: r.revokeLease.state } }));
      setNotice(
        until ? `Revoked the borrowed lease of ${who}: its ${fmtInt(lease.credits)} credits stay held until ${until}.` : `Revoked the lease of ${who}.`,
      );
    } catch (err) {
      setError(asApiError(err));
    }
  }

  return (
    <Status q={q}>
      {(d) => {
        if (!d.pool)
          return (
            <p class="empty">
              No such pool in your organization. <a href="#/pools">Back to the pools</a>.
            </p>
          );
        const pool = { ...d.pool, ...live };
        // A lease revoked here stays in the list, reading its new state, until the page is left.
        const leases = [...(leasesQ.data ?? []).filter((l) => !ended[l.id]), ...Object.values(ended)];
        const held = leases.filter((l) => heldAfterRevoke(l, now));
        const leaseCols: Column<Lease>[] = [
          {
            key: 'holder',
            label: 'Holder',
            render: (l) => l.principal.name + (l.principal.team ? ` (${l.principal.team})` : ''),
            sort: (l) => l.principal.name,
            filter: (l) => `${l.principal.name} ${l.principal.team ?? ''}`,
          },
          { key: 'app', label: 'App', render: (l) => l.app.key, sort: (l) => l.app.key, filter: (l) => l.app.key },
          { key: 'host', label: 'Host', render: (l) => l.host ?? '—', sort: (l) => l.host ?? '', filter: (l) => l.host ?? '' },
          { key: 'credits', label: 'Credits', render: (l) => fmtInt(l.credits), sort: (l) => l.credits, numeric: true },
          { key: 'age', label: 'Age', render: (l) => fmtAge(l.acquiredAt, now), sort: (l) => l.acquiredAt },
          { key: 'state', label: 'State', render: (l) => <span class={`state ${l.state.toLowerCase()}`}>{l.state}</span>, sort: (l) => l.state },
          {
            key: 'until',
            label: 'Held until',
            render: (l) => <LeaseUntil lease={l} now={now} />,
            sort: (l) => l.borrowedUntil ?? '',
          },
        ];
        if (admin)
          leaseCols.push({
            key: 'revoke',
            label: 'Revoke',
            render: (l) =>
              l.state === 'ACTIVE' ? (
                <button
                  type="button"
                  class="danger"
                  onClick={() => revoke(l)}
                  aria-label={`Revoke the ${l.borrowedUntil ? 'borrowed ' : ''}lease of ${l.principal.name} on ${l.host ?? 'no host'} (${l.app.key})`}
                >
                  Revoke
                </button>
              ) : (
                '—'
              ),
          });
        const appCols: Column<App>[] = [
          { key: 'key', label: 'Key', render: (a) => <code>{a.key}</code>, sort: (a) => a.key, filter: (a) => `${a.key} ${a.name} ${a.vendor ?? ''}` },
          { key: 'name', label: 'Name', render: (a) => a.name, sort: (a) => a.name },
          { key: 'vendor', label: 'Vendor', render: (a) => a.vendor ?? '—', sort: (a) => a.vendor ?? '' },
          { key: 'cost', label: 'Cost (credits)', render: (a) => fmtInt(a.cost), sort: (a) => a.cost, numeric: true },
          { key: 'share', label: 'Sharing', render: (a) => a.shareScope, sort: (a) => a.shareScope },
          { key: 'linger', label: 'Linger (s)', render: (a) => fmtInt(a.lingerSeconds), sort: (a) => a.lingerSeconds, numeric: true },
          { key: 'min', label: 'Minimum charge (s)', render: (a) => fmtInt(a.minimumChargeSeconds), sort: (a) => a.minimumChargeSeconds, numeric: true },
          {
            key: 'external',
            label: 'External names',
            render: (a) => (a.externalNames.length ? a.externalNames.map((n) => <code class="chip">{n}</code>) : '—'),
            filter: (a) => a.externalNames.join(' '),
          },
        ];
        if (admin)
          appCols.push({
            key: 'edit',
            label: 'Edit',
            render: (a) =>
              editingApp === a.id ? (
                <AppEditor app={a} onDone={(changed) => (setEditingApp(null), changed && q.reload())} />
              ) : (
                <button type="button" class="secondary" onClick={() => setEditingApp(a.id)} aria-label={`Edit app ${a.key}`}>
                  Edit
                </button>
              ),
          });
        return (
          <section aria-labelledby="pool-h">
            <p>
              <a href="#/pools">← Pools</a> · <a href={`#/reports?pool=${encodeURIComponent(pool.id)}`}>Reports for this pool</a>
            </p>
            <h1 id="pool-h">{pool.name}</h1>
            <dl class="figures">
              <div>
                <dt>In use</dt>
                <dd>
                  <Gauge value={pool.inUse} max={pool.cap} label={`${pool.name}: credits in use of ${pool.cap}`} />
                </dd>
              </div>
              <div>
                <dt>Cap</dt>
                <dd>
                  {fmtInt(pool.cap)}{' '}
                  {admin && !editingCap && (
                    <button type="button" class="secondary" onClick={() => setEditingCap(true)}>
                      Change cap
                    </button>
                  )}
                </dd>
              </div>
              <div>
                <dt>Available</dt>
                <dd>{fmtInt(pool.available)}</dd>
              </div>
              <div>
                <dt>Queue</dt>
                <dd>{fmtInt(pool.queueLength)}</dd>
              </div>
              <div>
                <dt>Active leases</dt>
                <dd>{fmtInt(pool.activeLeases)}</dd>
              </div>
              <div>
                <dt>Lease length</dt>
                <dd>
                  {pool.defaultLeaseSeconds} s (at most {pool.maxLeaseSeconds} s)
                </dd>
              </div>
              <div>
                <dt>Credit-hour price</dt>
                <dd>{fmtMoney(pool.creditHourPrice)}</dd>
              </div>
              <div>
                <dt>Borrowing</dt>
                <dd>
                  <span data-testid="borrowing">{borrowingText(pool.maxBorrowHours)}</span>{' '}
                  {admin && !editingBorrow && (
                    <button type="button" class="secondary" onClick={() => setEditingBorrow(true)} aria-label={`Change borrowing of ${pool.name}`}>
                      Change borrowing
                    </button>
                  )}
                </dd>
              </div>
            </dl>
            {editingCap && <CapEditor pool={pool} onDone={(cap) => (setEditingCap(false), cap !== null && q.reload())} />}
            {editingBorrow && (
              <BorrowEditor
                pool={pool}
                onDone={(hours) => {
                  setEditingBorrow(false);
                  if (hours === null) return;
                  setNotice(`Borrowing in ${pool.name} is now ${borrowingText(hours)}.`);
                  q.reload();
                }}
              />
            )}
            <p role="status" class="notice">
              {notice}
            </p>
            {error && <ErrorBox error={error} />}

            <h2>Active leases</h2>
            {held.length > 0 && (
              <p class="muted" data-testid="held-note">
                {held.length === 1
                  ? '1 revoked borrowed lease still holds its credits until its borrowedUntil: its tool may run offline until then, so they count as in use.'
                  : `${fmtInt(held.length)} revoked borrowed leases still hold their credits until their borrowedUntil: their tools may run offline until then, so they count as in use.`}
              </p>
            )}
            <Status
              q={leasesQ}
              isEmpty={(l) => l.length === 0 && Object.keys(ended).length === 0}
              empty={
                <>
                  No active leases: check one out with{' '}
                  <code>
                    tokenpool run --pool {pool.name} --app {pool.apps[0]?.key ?? '<app>'} -- &lt;command&gt;
                  </code>
                  .
                </>
              }
            >
              {() => (
                <Table
                  rows={leases}
                  columns={leaseCols}
                  caption="Active leases"
                  rowKey={(l) => l.id}
                  initialSort="age"
                  filterLabel="Filter leases by holder, app or host"
                />
              )}
            </Status>

            <h2>Apps and costs</h2>
            {pool.apps.length === 0 ? (
              <p class="empty">
                No apps in this pool yet: an ADMIN adds one with <code>createApp</code> (key, name, cost in credits).
              </p>
            ) : (
              <Table rows={pool.apps} columns={appCols} caption="Apps" rowKey={(a) => a.id} initialSort="key" filterLabel="Filter apps" />
            )}

            <h2>Team reservations and ceilings</h2>
            {d.groupLimits.length === 0 ? (
              <p class="empty">No team limits: every team draws from the whole cap.{admin ? ' Set one below.' : ''}</p>
            ) : (
              <Table
                rows={d.groupLimits}
                caption="Team limits"
                rowKey={(g) => g.team}
                initialSort="team"
                columns={[
                  { key: 'team', label: 'Team', render: (g) => g.team, sort: (g) => g.team },
                  { key: 'reserved', label: 'Reserved', render: (g) => fmtInt(g.reserved), sort: (g) => g.reserved, numeric: true },
                  { key: 'max', label: 'Ceiling', render: (g) => (g.max === null ? 'none' : fmtInt(g.max)), sort: (g) => g.max ?? Infinity, numeric: true },
                ]}
              />
            )}
            {admin && <LimitForm poolId={pool.id} onDone={q.reload} />}

            <h2>Recent denials (7 days)</h2>
            <Status q={denialsQ} isEmpty={(l) => l.length === 0} empty="No denials in the last 7 days: every check-out found credits.">
              {(list) => (
                <Table
                  rows={list}
                  caption="Denials, newest first"
                  rowKey={(x) => x.id}
                  filterLabel="Filter denials"
                  columns={[
                    { key: 'at', label: 'At', render: (x) => fmtTime(x.lastAt), sort: (x) => x.lastAt },
                    {
                      key: 'who',
                      label: 'Principal',
                      render: (x) => x.principal.name + (x.team ? ` (${x.team})` : ''),
                      sort: (x) => x.principal.name,
                      filter: (x) => `${x.principal.name} ${x.team ?? ''}`,
                    },
                    { key: 'app', label: 'App', render: (x) => x.app.key, sort: (x) => x.app.key, filter: (x) => x.app.key },
                    { key: 'reason', label: 'Reason', render: (x) => x.reason, sort: (x) => x.reason, filter: (x) => x.reason },
                    { key: 'req', label: 'Requested', render: (x) => fmtInt(x.requested), sort: (x) => x.requested, numeric: true },
                    { key: 'avail', label: 'Available', render: (x) => fmtInt(x.available), sort: (x) => x.available, numeric: true },
                    { key: 'count', label: 'Times', render: (x) => fmtInt(x.count), sort: (x) => x.count, numeric: true },
                  ]}
                />
              )}
            </Status>
          </section>
        );
      }}
    </Status>
  );
}
