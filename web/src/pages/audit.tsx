import { useState } from 'preact/hooks';
import { gql, type ApiError } from '../api';
import { DateRange, ErrorBox, type Range, Table } from '../components';
import { fmtTime } from '../format';
import { asApiError, useQuery } from '../hooks';

interface Entry {
  id: string;
  at: string;
  action: string;
  objectId: string;
  before: string | null;
  after: string | null;
  actor: { name: string };
}

const AUDIT =
  'query($from: DateTime!, $to: DateTime!, $after: String) { auditLog(from: $from, to: $to, first: 100, after: $after) { id at action objectId before after actor { name } } }';

/** The fields that differ between before and after, as "cap: 40 → 30". */
function changes(e: Entry): string {
  let before: Record<string, unknown> = {};
  let after: Record<string, unknown> = {};
  try {
    before = e.before ? (JSON.parse(e.before) as Record<string, unknown>) : {};
    after = e.after ? (JSON.parse(e.after) as Record<string, unknown>) : {};
  } catch {
    return `${e.before ?? ''} → ${e.after ?? ''}`;
  }
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  return (
    keys.map((k) => `${k}: ${k in before ? JSON.stringify(before[k]) : '—'} → ${k in after ? JSON.stringify(after[k]) : '—'}`).join('; ') || 'no field changed'
  );
}

function Entries({ range }: { range: Range }) {
  const q = useQuery(() => gql<{ auditLog: Entry[] }>(AUDIT, { from: range.from, to: range.to }).then((d) => d.auditLog), [range.from, range.to]);
  const [more, setMore] = useState<Entry[]>([]);
  const [end, setEnd] = useState(false);
  const [error, setError] = useState<ApiError>();
  if (q.error) return <ErrorBox error={q.error} retry={q.reload} />;
  if (!q.data)
    return (
      <p class="muted" role="status">
        Loading…
      </p>
    );
  const rows = [...q.data, ...more];
  if (rows.length === 0)
    return <p class="empty">No change in this period: catalog, key and limit changes are recorded here as they happen. Pick a longer period.</p>;
  async function loadMore() {
    try {
      const next = (await gql<{ auditLog: Entry[] }>(AUDIT, { from: range.from, to: range.to, after: rows.at(-1)!.id })).auditLog;
      setMore([...more, ...next]);
      if (next.length < 100) setEnd(true);
    } catch (err) {
      setError(asApiError(err));
    }
  }
  return (
    <>
      <Table
        rows={rows}
        caption="Audit log"
        rowKey={(e) => e.id}
        filterLabel="Filter by action, actor or object"
        columns={[
          { key: 'at', label: 'At', render: (e) => fmtTime(e.at), sort: (e) => e.at },
          { key: 'actor', label: 'Actor', render: (e) => e.actor.name, sort: (e) => e.actor.name, filter: (e) => e.actor.name },
          { key: 'action', label: 'Action', render: (e) => e.action, sort: (e) => e.action, filter: (e) => e.action },
          { key: 'object', label: 'Object', render: (e) => <code>{e.objectId}</code>, filter: (e) => e.objectId },
          { key: 'change', label: 'Change', render: (e) => changes(e), filter: (e) => changes(e) },
        ]}
      />
      {!end && q.data.length === 100 && (
        <button type="button" onClick={loadMore}>
          Load 100 more
        </button>
      )}
      {error && <ErrorBox error={error} />}
    </>
  );
}

export function AuditPage() {
  const [range, setRange] = useState<Range>();
  return (
    <section aria-labelledby="audit-h">
      <h1 id="audit-h">Audit log</h1>
      <div class="controls">
        <DateRange onChange={setRange} />
      </div>
      {range && <Entries key={`${range.from}|${range.to}`} range={range} />}
    </section>
  );
}
