import { useState } from 'preact/hooks';
import { gql } from '../api';
import { DateRange, type Range, Status, Table } from '../components';
import { fmtTime } from '../format';
import { useQuery } from '../hooks';

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

const PAGE = 100;
const MOST = 2000;

/** The log answers oldest first, 100 at a time: read the period's pages (up to 2,000 entries) and show the newest first. */
async function loadEntries(range: Range): Promise<{ rows: Entry[]; capped: boolean }> {
  const rows: Entry[] = [];
  for (;;) {
    const page = (await gql<{ auditLog: Entry[] }>(AUDIT, { from: range.from, to: range.to, after: rows.at(-1)?.id ?? null })).auditLog;
    rows.push(...page);
    if (page.length < PAGE) return { rows: rows.reverse(), capped: false };
    if (rows.length >= MOST) return { rows: rows.reverse(), capped: true };
  }
}

function Entries({ range }: { range: Range }) {
  const q = useQuery(() => loadEntries(range), [range.from, range.to]);
  return (
    <Status
      q={q}
      isEmpty={(d) => d.rows.length === 0}
      empty="No change in this period: catalog, key and limit changes are recorded here as they happen. Pick a longer period."
    >
      {({ rows, capped }) => (
        <>
          {capped && (
            <p class="muted">The period holds more than {MOST.toLocaleString('en-US')} changes: the oldest are left out. Pick a shorter period to see them.</p>
          )}
          <Table
            rows={rows}
            caption="Audit log, newest first"
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
        </>
      )}
    </Status>
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
