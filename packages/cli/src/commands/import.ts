import { createReadStream, existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { LICENSE_LOG_FORMATS, TokenpoolError, type LicenseLogFormat, type LicenseLogImportSummary } from '@tokenpool/client';
import { flag, requiredOption, stringOption, UsageError, type ParsedArgs } from '../args';
import { CONNECTION_HELP, type Command } from '../command';
import { ExitCode, exitCodeForError } from '../exit-codes';
import { plural } from '../format';
import { resolvePool } from '../resolve';

/**
 * `tokenpool import`: license-server logs (FlexNet debug logs, RLM report logs, `lmstat -a`
 * snapshots) into a pool's usage history, one import per file in the order given, each file
 * streamed and gzip-compressed on the way (a `.gz` file is sent as it is). See
 * docs/license-logs.md for what the server makes of them.
 */

const COMMAND = 'import';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ImportArgs {
  pool: string;
  format: LicenseLogFormat;
  timeZone: string | undefined;
  files: string[];
  json: boolean;
}

export function parseImportArgs(parsed: ParsedArgs): ImportArgs {
  const pool = requiredOption(parsed, 'pool', COMMAND);
  const format = requiredOption(parsed, 'format', COMMAND);
  if (!(LICENSE_LOG_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format must be one of ${LICENSE_LOG_FORMATS.join(', ')}, not "${format}"`, COMMAND);
  }
  const timeZone = stringOption(parsed, 'tz');
  if (timeZone === '') throw new UsageError('--tz needs a time zone (e.g. Europe/Madrid)', COMMAND);
  const files = parsed.positionals;
  if (files.length === 0) throw new UsageError('missing the log file(s) to import', COMMAND);
  for (const file of files) {
    if (!existsSync(file)) throw new UsageError(`no file ${file}`, COMMAND);
    if (statSync(file).isDirectory()) throw new UsageError(`${file} is a directory`, COMMAND);
  }
  return { pool, format: format as LicenseLogFormat, timeZone, files, json: flag(parsed, 'json') };
}

/** One file's result in `--json`: its path and the server's summary. */
export type ImportedFile = LicenseLogImportSummary & { file: string };

/** The sums over every file imported (unmatched features merged, the earliest first and latest last event). */
export type ImportTotal = Omit<LicenseLogImportSummary, 'importId' | 'format'> & { files: number };

/** `import --json`'s document. `failed` names the file a refusal stopped at (the files after it were not sent). */
export interface ImportDocument {
  pool: { id: string; name: string | null };
  format: LicenseLogFormat;
  timeZone: string | null;
  files: ImportedFile[];
  total: ImportTotal;
  failed?: { file: string; code: string; message: string; line: number | null };
}

export function totalOf(files: readonly LicenseLogImportSummary[]): ImportTotal {
  const sum = (k: 'lines' | 'leases' | 'denials' | 'duplicates' | 'skippedLines' | 'estimatedEnds') => files.reduce((n, f) => n + f[k], 0);
  const firsts = files.map((f) => f.firstEvent).filter((t): t is string => t !== null);
  const lasts = files.map((f) => f.lastEvent).filter((t): t is string => t !== null);
  const by = (a: string, b: string) => Date.parse(a) - Date.parse(b);
  return {
    files: files.length,
    lines: sum('lines'),
    leases: sum('leases'),
    denials: sum('denials'),
    duplicates: sum('duplicates'),
    skippedLines: sum('skippedLines'),
    estimatedEnds: sum('estimatedEnds'),
    unmatchedFeatures: [...new Set(files.flatMap((f) => f.unmatchedFeatures))].sort(),
    firstEvent: firsts.sort(by)[0] ?? null,
    lastEvent: lasts.sort(by).at(-1) ?? null,
  };
}

const when = (iso: string) => `${iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')} UTC`;

/** The figures of one file (or of the total) as a person reads them. */
export function renderSummary(label: string, s: Omit<ImportTotal, 'files'>): string {
  const lines = [
    `${label}: ${plural(s.leases, 'lease')}, ${plural(s.denials, 'denial')} recorded; ${plural(s.duplicates, 'duplicate')}, ${plural(
      s.skippedLines,
      'skipped line',
    )}, ${plural(s.estimatedEnds, 'estimated end')} (${plural(s.lines, 'line')} read)`,
  ];
  if (s.firstEvent && s.lastEvent) lines.push(`  events from ${when(s.firstEvent)} to ${when(s.lastEvent)}`);
  else lines.push('  no events');
  if (s.unmatchedFeatures.length) {
    lines.push(`  unmatched features (no app of the pool; nothing recorded for them): ${s.unmatchedFeatures.join(', ')}`);
  }
  return lines.join('\n');
}

export const importCommand: Command = {
  name: 'import',
  summary: "import FlexNet, RLM or lmstat logs into a pool's usage history (ADMIN)",
  help: `Usage: tokenpool import --pool <id or name> --format flexlm|rlm|lmstat [--tz <zone>] [--json] <file>...

Reads the logs of a license server you already run into a pool's usage history, so its
shelfware report, suggested cap and what-if caps cover that server's features
(docs/license-logs.md). One import per file, in the order given: give rotated logs oldest
first (lmgrd.log.2 lmgrd.log.1 lmgrd.log). Each file is streamed and gzip-compressed on the
way; a file ending in .gz is sent as it is. Every event is recorded once: importing a file
again, or rotated files that overlap, counts the repeats as duplicates.

Feature names map to the pool's apps by the apps' external names (exact), else by their
keys (any case); features no app matches are listed, not recorded: add the name to the
app (\`tokenpool apps create --external-name\`, or updateApp's externalNames) and import again.

Options:
  --pool <id|name>    the pool (required)
  --format <format>   flexlm (FlexNet lmgrd/vendor debug log), rlm (RLM report log) or
                      lmstat (\`lmstat -a\` output taken repeatedly) (required)
  --tz <zone>         the IANA time zone the log's clock ran in, e.g. Europe/Madrid
                      (default UTC)
  --json              print the summaries and their total as JSON

Exit codes: 0 every file imported; 1 usage error, or a file refused (not text, or not of the
format: its first offending line is named; an unknown pool or time zone) - the files after it
are not sent; 77 bad or unauthorised key (the import needs an ADMIN key).

Example:
  tokenpool import --pool cad --format flexlm --tz Europe/Madrid lmgrd.log.1.gz lmgrd.log

${CONNECTION_HELP}`,
  options: { pool: { type: 'string' }, format: { type: 'string' }, tz: { type: 'string' }, json: { type: 'boolean' } },
  maxPositionals: Number.MAX_SAFE_INTEGER,
  async run(parsed, context) {
    const args = parseImportArgs(parsed);
    const client = context.client();
    // An id is used as it is (one request fewer, and a key that may not list pools still gets the server's own refusal).
    const pool = UUID.test(args.pool) ? { id: args.pool, name: null } : await resolvePool(client, args.pool, COMMAND);
    const { stdout, stderr } = context.io;
    const done: ImportedFile[] = [];
    const document = (): ImportDocument => ({
      pool: { id: pool.id, name: pool.name },
      format: args.format,
      timeZone: args.timeZone ?? null,
      files: done,
      total: totalOf(done),
    });
    for (const file of args.files) {
      const gzipped = file.toLowerCase().endsWith('.gz');
      let summary: LicenseLogImportSummary;
      try {
        summary = await client.importLicenseLog({
          poolId: pool.id,
          format: args.format,
          timeZone: args.timeZone,
          body: createReadStream(file),
          gzip: !gzipped,
        });
      } catch (err) {
        if (!(err instanceof TokenpoolError)) throw err;
        const where = err.line !== undefined ? `line ${err.line}: ` : '';
        const rest = args.files.length - done.length - 1;
        stderr.write(`tokenpool import: ${file}: ${where}${err.message} (${err.code})\n`);
        if (rest > 0) stderr.write(`tokenpool import: ${plural(rest, 'file')} after it not imported\n`);
        if (args.json) {
          stdout.write(`${JSON.stringify({ ...document(), failed: { file, code: err.code, message: err.message, line: err.line ?? null } }, null, 2)}\n`);
        }
        return exitCodeForError(err.code);
      }
      done.push({ file, ...summary });
      if (!args.json) stdout.write(`${renderSummary(basename(file), summary)}\n`);
    }
    if (args.json) stdout.write(`${JSON.stringify(document(), null, 2)}\n`);
    else {
      const { files, ...total } = totalOf(done);
      if (files > 1) stdout.write(`${renderSummary(`Total (${plural(files, 'file')})`, total)}\n`);
      stdout.write(`Shelfware and what-if caps over these events: the dashboard's Reports page, or the shelfwareReport query for pool ${pool.id}.\n`);
    }
    return ExitCode.OK;
  },
};
