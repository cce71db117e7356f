import { createReadStream, createWriteStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { basename, dirname, join } from 'node:path';
import { linesOf, verifyLedgerAudit, type LedgerAuditResult } from '@tokenpool/client';
import { flag, integerOption, requiredOption, UsageError, type ParsedArgs } from '../args';
import { CONNECTION_HELP, type Command } from '../command';
import { ExitCode } from '../exit-codes';

/**
 * The sealed ledger for auditors (docs/ledger-audit.md): `tokenpool ledger export` saves the
 * auditor's export (GET /exports/ledger-audit.jsonl) to a file byte for byte, and
 * `tokenpool ledger verify` recomputes every seal of such a file with no server and no key.
 */

export interface LedgerExportArgs {
  out: string;
  fromSequence?: number;
  toSequence?: number;
}

export function parseLedgerExportArgs(parsed: ParsedArgs): LedgerExportArgs {
  const out = requiredOption(parsed, 'out', 'ledger export');
  const fromSequence = integerOption(parsed, 'from-sequence', 'ledger export', 1);
  const toSequence = integerOption(parsed, 'to-sequence', 'ledger export', 1);
  if (fromSequence !== undefined && toSequence !== undefined && toSequence < fromSequence) {
    throw new UsageError('--to-sequence must be at least --from-sequence', 'ledger export');
  }
  return { out, fromSequence, toSequence };
}

/**
 * Counts the seal and row lines of the export as its bytes go by, without keeping them: the
 * server writes each seal line with "seal" as its first key and each row line with "id".
 */
export class AuditLineCounter {
  seals = 0;
  rows = 0;
  /** The bytes of the line not yet ended by "\n" (only its start matters). */
  #head = '';
  #endsWithNewline = true;
  #decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const text = this.#decoder.decode(chunk, { stream: true });
    let start = 0;
    while (start < text.length) {
      const at = text.indexOf('\n', start);
      const end = at < 0 ? text.length : at;
      if (this.#head.length < 16) this.#head += text.slice(start, Math.min(end, start + 16));
      if (at < 0) break;
      this.#endLine();
      start = at + 1;
    }
    this.#endsWithNewline = chunk[chunk.length - 1] === 0x0a;
  }

  /** Whether the last line was ended by "\n" (a complete export ends so). */
  get complete(): boolean {
    return this.#endsWithNewline;
  }

  #endLine(): void {
    if (this.#head.startsWith('{"seal":')) this.seals++;
    else if (this.#head !== '') this.rows++;
    this.#head = '';
  }
}

/**
 * Streams the export into a temp file beside `out` and renames it over `out` once the last
 * byte is on disk, so `out` is either the old file or the whole new export, never a part.
 */
async function exportTo(args: LedgerExportArgs, body: ReadableStream<Uint8Array>): Promise<{ seals: number; rows: number; bytes: number }> {
  const temp = join(dirname(args.out), `.${basename(args.out)}.${process.pid}.tmp`);
  const counter = new AuditLineCounter();
  let bytes = 0;
  const file = createWriteStream(temp, { mode: 0o644 });
  try {
    await once(file, 'open');
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      counter.push(chunk);
      bytes += chunk.length;
      if (!file.write(chunk)) await once(file, 'drain');
    }
    if (bytes > 0 && !counter.complete) throw new Error('the export ended in the middle of a line (the connection was cut?); nothing was written');
    file.end();
    await once(file, 'finish');
    renameSync(temp, args.out);
  } catch (err) {
    file.destroy();
    rmSync(temp, { force: true });
    await body.cancel().catch(() => undefined);
    throw err;
  }
  return { seals: counter.seals, rows: counter.rows, bytes };
}

export const ledgerExportCommand: Command = {
  name: 'ledger export',
  summary: "save the sealed ledger's audit export (JSON lines) to a file",
  help: `Usage: tokenpool ledger export --out <file> [--from-sequence <n>] [--to-sequence <n>]

Saves the auditor's export of the sealed ledger (GET /exports/ledger-audit.jsonl): for each
seal, its seal line, then the canonical line of every row it covers, byte for byte as the
digests were computed. The file is written whole or not at all (a temp file, then a rename).
Check it with \`tokenpool ledger verify --file <file>\`, here or anywhere else.
Needs an ADMIN or VIEWER key. Only sealed rows are exported: an ADMIN can seal first
(GraphQL \`mutation { sealLedger { sequence } }\`).

Options:
  --out <file>           where to write the export (required)
  --from-sequence <n>    the first seal to export (default 1)
  --to-sequence <n>      the last seal to export (default: the newest)

Exit codes: 0 written; 77 bad or unauthorised key (a CLIENT key); 1 usage error, a bad
range (BAD_USER_INPUT), or a failure of the server or the file.

${CONNECTION_HELP}`,
  options: { out: { type: 'string' }, 'from-sequence': { type: 'string' }, 'to-sequence': { type: 'string' } },
  maxPositionals: 0,
  async run(parsed, context) {
    const args = parseLedgerExportArgs(parsed);
    if (existsSync(args.out) && statSync(args.out).isDirectory()) throw new UsageError(`--out ${args.out} is a directory`, 'ledger export');
    if (!existsSync(dirname(args.out) || '.')) throw new UsageError(`--out: no directory ${dirname(args.out)}`, 'ledger export');
    const body = await context.client().ledgerAudit({ fromSequence: args.fromSequence, toSequence: args.toSequence });
    const { seals, rows } = await exportTo(args, body);
    context.io.stdout.write(`Wrote ${seals} seals, ${rows} rows to ${args.out}\n`);
    return ExitCode.OK;
  },
};

/** `ledger verify --json`'s document: the check's result and the file checked. */
export type LedgerVerifyDocument = LedgerAuditResult & { file: string };

export function renderLedgerVerify(result: LedgerAuditResult): string {
  if (result.ok) return `${result.seals} seals, ${result.rows} rows: every digest matches`;
  const where = result.firstBrokenSeal === null ? 'the export' : `seal ${result.firstBrokenSeal}`;
  return [
    `${where} is broken: ${result.reason}${result.line === null ? '' : ` (line ${result.line})`}`,
    `  ${result.message}`,
    `${result.seals} seals, ${result.rows} rows read up to there; the seals after it were not checked`,
  ].join('\n');
}

export const ledgerVerifyCommand: Command = {
  name: 'ledger verify',
  summary: 'recompute every seal of an audit export, offline (no server, no key)',
  help: `Usage: tokenpool ledger verify --file <audit.jsonl> [--json]

Recomputes every seal's digest in an audit export (\`tokenpool ledger export\`) with SHA-256
over its previousDigest and its row lines exactly as they are in the file, checks each
seal's row count and that its previousDigest is the digest of the seal line before it, and
prints "N seals, M rows: every digest matches", or the first broken seal and why:
DIGEST_MISMATCH (a row or the seal changed), ROWS_MISSING (a row deleted), ROWS_ADDED (a
row slipped in), CHAIN_BROKEN (a seal changed, missing or out of order) or MALFORMED (a
line that is not JSON, rows before any seal). Needs no server and no key; reads the file
as a stream, so any size is fine.

Options:
  --file <file>      the export to check (required)
  --json             print the result as JSON

Exit codes: 0 every digest matches; 65 it does not (the first broken seal is printed);
1 usage error or a file that cannot be read.`,
  options: { file: { type: 'string' }, json: { type: 'boolean' } },
  maxPositionals: 0,
  async run(parsed, context) {
    const file = requiredOption(parsed, 'file', 'ledger verify');
    if (!existsSync(file)) throw new UsageError(`no file ${file}`, 'ledger verify');
    if (statSync(file).isDirectory()) throw new UsageError(`${file} is a directory`, 'ledger verify');
    let result: LedgerAuditResult;
    try {
      result = await verifyLedgerAudit(linesOf(createReadStream(file)));
    } catch (err) {
      throw new Error(`could not read ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (flag(parsed, 'json')) {
      const doc: LedgerVerifyDocument = { ...result, file };
      context.io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    } else {
      context.io.stdout.write(`${renderLedgerVerify(result)}\n`);
    }
    return result.ok ? ExitCode.OK : ExitCode.DATA_ERROR;
  },
};
