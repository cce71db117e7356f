import { useState } from 'preact/hooks';
import { ApiError, gql, storedKey } from '../api';
import { ErrorBox, type Range, Status } from '../components';
import { fmtInt, fmtTime } from '../format';
import { asApiError, useQuery } from '../hooks';
import { PoolReports } from './reports';

/**
 * The license-log import (docs/license-logs.md, docs/dashboard.md): an ADMIN uploads the logs
 * of a FlexNet or RLM server (or `lmstat -a` snapshots) into a pool's usage history, one file
 * after the other in the order chosen, sees what each import recorded, then the pool's
 * shelfware report over the imported window.
 */

type Format = 'flexlm' | 'rlm' | 'lmstat';

const FORMATS: [Format, string][] = [
  ['flexlm', 'FlexNet debug log (lmgrd / vendor daemon)'],
  ['rlm', 'RLM report log'],
  ['lmstat', 'lmstat -a snapshots'],
];

export interface ImportSummary {
  importId: string;
  format: Format;
  lines: number;
  leases: number;
  denials: number;
  duplicates: number;
  skippedLines: number;
  estimatedEnds: number;
  unmatchedFeatures: string[];
  firstEvent: string | null;
  lastEvent: string | null;
}

interface PoolOption {
  id: string;
  name: string;
}

/** A refused file: the contract's code and message, and the first offending line when the server names one. */
export class ImportError extends ApiError {
  constructor(
    code: string,
    message: string,
    readonly line: number | null,
  ) {
    super(code, line === null ? message : `line ${line}: ${message}`);
  }
}

const browserZone = (): string => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
};

/**
 * Gzips a file in the browser (CompressionStream) before it is sent: a log shrinks about
 * tenfold. A file that already is gzip (its magic bytes) is sent as it is.
 */
async function bodyOf(file: File): Promise<Blob> {
  const head = new Uint8Array(await file.slice(0, 2).arrayBuffer());
  if (head[0] === 0x1f && head[1] === 0x8b) return file;
  if (typeof CompressionStream === 'undefined') return file;
  return new Response(file.stream().pipeThrough(new CompressionStream('gzip'))).blob();
}

/** One file through POST /v1/imports/{format}, with the signed-in key in the Authorization header. */
export async function importFile(file: File, poolId: string, format: Format, timeZone: string): Promise<ImportSummary> {
  const key = storedKey();
  if (!key) throw new ApiError('UNAUTHENTICATED', 'Sign in with an API key');
  const query = new URLSearchParams({ poolId });
  if (timeZone.trim()) query.set('tz', timeZone.trim());
  let res: Response;
  try {
    res = await fetch(`/v1/imports/${encodeURIComponent(format)}?${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
      body: await bodyOf(file),
    });
  } catch {
    throw new ApiError('UNAVAILABLE', 'The server did not answer; check that it runs and retry');
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw new ApiError(res.status === 413 ? 'BAD_REQUEST' : 'UNAVAILABLE', `The import answered ${res.status} without a JSON body`);
  }
  if (res.ok) return body as ImportSummary;
  const first = (body as { errors?: { message?: string; extensions?: { code?: string; line?: number } }[] }).errors?.[0];
  const line = typeof first?.extensions?.line === 'number' ? first.extensions.line : null;
  throw new ImportError(first?.extensions?.code ?? 'ERROR', first?.message ?? `The import answered ${res.status}`, line);
}

const HOUR = 3_600_000;

/** The report window around the imported events: whole hours from the first to the last (at least one hour). */
export function windowOf(summaries: readonly ImportSummary[]): Range | null {
  const firsts = summaries
    .map((s) => s.firstEvent)
    .filter((t): t is string => !!t)
    .map(Date.parse);
  const lasts = summaries
    .map((s) => s.lastEvent)
    .filter((t): t is string => !!t)
    .map(Date.parse);
  if (firsts.length === 0 || lasts.length === 0) return null;
  const from = Math.floor(Math.min(...firsts) / HOUR) * HOUR;
  const to = Math.max(from + HOUR, Math.ceil((Math.max(...lasts) + 1) / HOUR) * HOUR);
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), days: Math.max(1, Math.ceil((to - from) / (24 * HOUR))) };
}

function Figure({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}

function SummaryCard({ file, summary, poolId }: { file: string; summary: ImportSummary; poolId: string }) {
  return (
    <section class="card" data-testid="import-summary" data-file={file} aria-label={`Import of ${file}`}>
      <h3>{file}</h3>
      <dl class="figures">
        <Figure label="Leases recorded" value={fmtInt(summary.leases)} testId="import-leases" />
        <Figure label="Denials recorded" value={fmtInt(summary.denials)} testId="import-denials" />
        <Figure label="Duplicates" value={fmtInt(summary.duplicates)} testId="import-duplicates" />
        <Figure label="Skipped lines" value={fmtInt(summary.skippedLines)} testId="import-skipped" />
        <Figure label="Estimated ends" value={fmtInt(summary.estimatedEnds)} testId="import-estimated" />
        <Figure label="Lines read" value={fmtInt(summary.lines)} testId="import-lines" />
        <Figure label="First event" value={fmtTime(summary.firstEvent)} testId="import-first" />
        <Figure label="Last event" value={fmtTime(summary.lastEvent)} testId="import-last" />
      </dl>
      {summary.duplicates > 0 && summary.leases === 0 && summary.denials === 0 && (
        <p class="muted">Every event of this file had been imported before: nothing new was recorded.</p>
      )}
      {summary.unmatchedFeatures.length > 0 && (
        <div class="notice" data-testid="import-unmatched">
          <p>
            <strong>Features no app of the pool matches</strong> (nothing recorded for them): {summary.unmatchedFeatures.join(', ')}.
          </p>
          <p class="muted">
            Set an app's external names to these feature names on the <a href={`#/pools/${encodeURIComponent(poolId)}`}>pool page</a> (Edit, External names),
            then import the file again: what was recorded already counts as duplicates.
          </p>
        </div>
      )}
    </section>
  );
}

interface Done {
  file: string;
  summary: ImportSummary;
}

export function ImportPage() {
  const pools = useQuery(() => gql<{ pools: PoolOption[] }>('{ pools { id name } }').then((d) => d.pools), []);
  const [poolId, setPoolId] = useState('');
  const [format, setFormat] = useState<Format>('flexlm');
  const [timeZone, setTimeZone] = useState(browserZone);
  const [files, setFiles] = useState<File[]>([]);
  const [done, setDone] = useState<{ poolId: string; results: Done[] }>({ poolId: '', results: [] });
  const [failure, setFailure] = useState<{ file: string; error: ApiError; skipped: number }>();
  const [progress, setProgress] = useState('');
  const [busy, setBusy] = useState(false);

  async function run(e: Event, chosenPool: string) {
    e.preventDefault();
    if (files.length === 0) return;
    setBusy(true);
    setFailure(undefined);
    const results: Done[] = [];
    setDone({ poolId: chosenPool, results });
    try {
      for (const [i, file] of files.entries()) {
        setProgress(`Importing ${file.name} (${i + 1} of ${files.length})…`);
        try {
          results.push({ file: file.name, summary: await importFile(file, chosenPool, format, timeZone) });
          setDone({ poolId: chosenPool, results: [...results] });
        } catch (err) {
          setFailure({ file: file.name, error: asApiError(err), skipped: files.length - i - 1 });
          return;
        }
      }
    } finally {
      setBusy(false);
      setProgress('');
    }
  }

  const span = windowOf(done.results.map((r) => r.summary));
  return (
    <section aria-labelledby="import-h">
      <h1 id="import-h">Import license logs</h1>
      <p class="muted">
        Read the logs of a FlexNet or RLM server you already run into a pool's usage history: its shelfware report, suggested cap and what-if caps then cover
        them. Each event is recorded once, so importing a file again, or rotated files that overlap, adds nothing twice. See <code>docs/license-logs.md</code>.
      </p>
      <Status q={pools} isEmpty={(p) => p.length === 0} empty="No pools yet: create a pool and its apps first (the apps match the log's feature names).">
        {(list) => {
          const chosen = list.find((p) => p.id === poolId) ?? list[0];
          return (
            <form class="editor import" onSubmit={(e) => run(e, chosen.id)} aria-label="Import license logs">
              <label>
                Pool
                <select value={chosen.id} onChange={(e) => setPoolId((e.target as HTMLSelectElement).value)}>
                  {list.map((p) => (
                    <option value={p.id}>{p.name}</option>
                  ))}
                </select>
              </label>
              <label>
                Format
                <select value={format} onChange={(e) => setFormat((e.target as HTMLSelectElement).value as Format)}>
                  {FORMATS.map(([value, label]) => (
                    <option value={value}>{label}</option>
                  ))}
                </select>
              </label>
              <label>
                Time zone of the log
                <input value={timeZone} spellcheck={false} onInput={(e) => setTimeZone((e.target as HTMLInputElement).value)} aria-describedby="tz-help" />
              </label>
              <span id="tz-help" class="muted">
                An IANA zone (Europe/Madrid, America/New_York, UTC): the clock the license server's log was written in.
              </span>
              <label>
                Log files
                <input type="file" multiple aria-describedby="files-help" onChange={(e) => setFiles([...((e.target as HTMLInputElement).files ?? [])])} />
              </label>
              <span id="files-help" class="muted">
                Several files are imported one by one, in the order chosen: pick rotated logs oldest first. Files are gzip-compressed before upload; .gz files
                are sent as they are.
              </span>
              <button type="submit" disabled={busy || files.length === 0}>
                {busy ? 'Importing…' : files.length > 1 ? `Import ${files.length} files` : 'Import'}
              </button>
            </form>
          );
        }}
      </Status>
      <p role="status" class="notice">
        {progress}
      </p>
      {failure && (
        <div data-testid="import-failure">
          <p>
            <strong>{failure.file}</strong> was refused; nothing of it was recorded
            {failure.skipped > 0 ? `, and the ${failure.skipped === 1 ? 'file' : `${failure.skipped} files`} after it were not sent` : ''}.
          </p>
          <ErrorBox error={failure.error} />
        </div>
      )}
      {done.results.length > 0 && (
        <>
          <h2>What was imported</h2>
          {done.results.map((r) => (
            <SummaryCard file={r.file} summary={r.summary} poolId={done.poolId} />
          ))}
          <h2>Shelfware over the imported window</h2>
          {span ? (
            <>
              <p class="muted" data-testid="import-window">
                From {fmtTime(span.from)} to {fmtTime(span.to)}. <a href={`#/reports?pool=${encodeURIComponent(done.poolId)}`}>All reports for this pool</a>{' '}
                (pick custom dates there).
              </p>
              <PoolReports poolId={done.poolId} range={span} />
            </>
          ) : (
            <p class="empty">The files held no events, so there is no window to report on.</p>
          )}
        </>
      )}
    </section>
  );
}
