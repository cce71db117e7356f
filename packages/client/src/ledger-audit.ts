import { createHash, type Hash } from 'node:crypto';

/**
 * The auditor's check of a sealed-ledger export (GET /exports/ledger-audit.jsonl, see
 * docs/ledger-audit.md), with nothing but SHA-256 and no server: every seal's digest is
 * recomputed over its previousDigest and, for each row line after it, "\n" and the line's
 * bytes exactly as exported (never re-serialized), the row count is checked against the seal's
 * `rows`, and each seal's previousDigest against the digest of the seal line before it.
 *
 * It reads the lines one at a time and keeps one running hash, so an export of any size is
 * checked in constant memory; it stops at the first broken seal.
 */

/** Why an export does not match its seals (the first reason found, at the first broken seal). */
export type LedgerAuditReason =
  /** A row of the seal was changed, or the seal's digest (or, for the first seal of the file, its previousDigest) was. */
  | 'DIGEST_MISMATCH'
  /** The seal is followed by fewer row lines than its `rows`: a row was deleted. */
  | 'ROWS_MISSING'
  /** It is followed by more: a row was slipped in. */
  | 'ROWS_ADDED'
  /** Its previousDigest is not the digest of the seal line before it, or a seal is missing (sequence gap), or seal 1 does not start from 64 zeros. */
  | 'CHAIN_BROKEN'
  /** A line that is not a JSON object, a seal line without its fields, or row lines before any seal. */
  | 'MALFORMED';

export interface LedgerAuditResult {
  /** Every seal's digest, row count and chain link matches. */
  ok: boolean;
  /** Seal lines read (up to and including the broken one). */
  seals: number;
  /** Row lines read (up to where the check stopped). */
  rows: number;
  /** The `seal` (sequence) of the first broken seal; null when ok, or for a malformed line before any seal. */
  firstBrokenSeal: number | null;
  reason: LedgerAuditReason | null;
  /** The 1-based line of the file where the problem shows (for a seal's count or digest: its seal line); null when ok. */
  line: number | null;
  /** A sentence saying what did not match; null when ok. */
  message: string | null;
}

const ZERO_DIGEST = '0'.repeat(64);
const HEX_DIGEST = /^[0-9a-f]{64}$/;

interface OpenSeal {
  sequence: number;
  rows: number;
  digest: string;
  line: number;
  hash: Hash;
  count: number;
}

class Broken extends Error {
  constructor(
    readonly reason: LedgerAuditReason,
    readonly seal: number | null,
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Checks an audit export given as its lines (each with or without its trailing "\n"; a file
 * read with `linesOf`, or `linesOf(await client.ledgerAudit())`). Resolves, never rejects for
 * what the lines contain; a failing source (an unreadable file, a dropped connection) rejects
 * with its own error.
 */
export async function verifyLedgerAudit(lines: AsyncIterable<string> | Iterable<string>): Promise<LedgerAuditResult> {
  let seals = 0;
  let rows = 0;
  let lineNo = 0;
  let open: OpenSeal | null = null;
  /** The digest and sequence of the last seal line read, for the chain. */
  let previous: { sequence: number; digest: string } | null = null;
  /** Empty lines are allowed only at the end of the file (a final newline); one seen before more content is malformed. */
  let firstBlank: number | null = null;

  const close = (seal: OpenSeal): void => {
    if (seal.count < seal.rows)
      throw new Broken('ROWS_MISSING', seal.sequence, seal.line, `seal ${seal.sequence}: ${seal.count} rows follow it, the seal says ${seal.rows}`);
    if (seal.count > seal.rows)
      throw new Broken('ROWS_ADDED', seal.sequence, seal.line, `seal ${seal.sequence}: ${seal.count} rows follow it, the seal says ${seal.rows}`);
    const digest = seal.hash.digest('hex');
    if (digest !== seal.digest)
      throw new Broken('DIGEST_MISMATCH', seal.sequence, seal.line, `seal ${seal.sequence}: the rows digest to ${digest}, the seal says ${seal.digest}`);
  };

  try {
    for await (const raw of lines as AsyncIterable<string>) {
      lineNo++;
      const line = raw.endsWith('\n') ? raw.slice(0, -1) : raw;
      const inSeal = open?.sequence ?? null;
      if (line.includes('\n'))
        throw new Broken('MALFORMED', inSeal, lineNo, `line ${lineNo} holds more than one line: pass the export's lines (linesOf), not chunks`);
      if (line === '') {
        firstBlank ??= lineNo;
        continue;
      }
      if (firstBlank !== null) throw new Broken('MALFORMED', inSeal, firstBlank, `line ${firstBlank} is empty`);
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        throw new Broken('MALFORMED', inSeal, lineNo, `line ${lineNo} is not JSON`);
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record)) {
        throw new Broken('MALFORMED', inSeal, lineNo, `line ${lineNo} is not a JSON object`);
      }
      if ('seal' in record) {
        const seal = sealOf(record as Record<string, unknown>, lineNo);
        if (open) close(open);
        seals++;
        if (previous === null) {
          if (seal.sequence === 1 && seal.previousDigest !== ZERO_DIGEST)
            throw new Broken('CHAIN_BROKEN', 1, lineNo, `seal 1: its previousDigest is ${seal.previousDigest}, not 64 zeros`);
        } else {
          if (seal.sequence !== previous.sequence + 1)
            throw new Broken(
              'CHAIN_BROKEN',
              seal.sequence,
              lineNo,
              `seal ${seal.sequence} follows seal ${previous.sequence}: a seal is missing or out of order`,
            );
          if (seal.previousDigest !== previous.digest)
            throw new Broken(
              'CHAIN_BROKEN',
              seal.sequence,
              lineNo,
              `seal ${seal.sequence}: its previousDigest ${seal.previousDigest} is not seal ${previous.sequence}'s digest ${previous.digest}`,
            );
        }
        previous = { sequence: seal.sequence, digest: seal.digest };
        open = {
          sequence: seal.sequence,
          rows: seal.rows,
          digest: seal.digest,
          line: lineNo,
          hash: createHash('sha256').update(seal.previousDigest, 'utf8'),
          count: 0,
        };
        continue;
      }
      if (!open) throw new Broken('MALFORMED', null, lineNo, `line ${lineNo} is a row before any seal line`);
      open.hash.update('\n', 'utf8').update(line, 'utf8');
      open.count++;
      rows++;
    }
    if (open) close(open);
  } catch (err) {
    if (!(err instanceof Broken)) throw err;
    return { ok: false, seals, rows, firstBrokenSeal: err.seal, reason: err.reason, line: err.line, message: err.message };
  }
  return { ok: true, seals, rows, firstBrokenSeal: null, reason: null, line: null, message: null };
}

function sealOf(record: Record<string, unknown>, lineNo: number): { sequence: number; rows: number; previousDigest: string; digest: string } {
  const { seal, rows, previousDigest, digest } = record;
  const sequence = Number.isSafeInteger(seal) && (seal as number) >= 1 ? (seal as number) : null;
  const fail = (what: string) => new Broken('MALFORMED', sequence, lineNo, `line ${lineNo}: a seal line ${what}`);
  if (sequence === null) throw fail('whose "seal" is not a sequence number (1 or more)');
  if (!Number.isSafeInteger(rows) || (rows as number) < 0) throw fail('whose "rows" is not a count');
  if (typeof previousDigest !== 'string' || !HEX_DIGEST.test(previousDigest)) throw fail('whose "previousDigest" is not 64 hex digits');
  if (typeof digest !== 'string' || !HEX_DIGEST.test(digest)) throw fail('whose "digest" is not 64 hex digits');
  return { sequence, rows: rows as number, previousDigest, digest };
}

/**
 * Splits a stream of bytes or text (a response body, `fs.createReadStream(path)`) into lines
 * without their "\n", decoding UTF-8 across chunk boundaries; a last line without a newline is
 * given too. Holds one line at a time.
 */
export async function* linesOf(chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>): AsyncGenerator<string> {
  // ignoreBOM: a byte-order mark is kept (and makes the first line malformed), not silently dropped.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let pending = '';
  for await (const chunk of chunks as AsyncIterable<Uint8Array | string>) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    let at: number;
    while ((at = pending.indexOf('\n', start)) >= 0) {
      yield pending.slice(start, at);
      start = at + 1;
    }
    pending = pending.slice(start);
  }
  pending += decoder.decode();
  if (pending !== '') yield pending;
}
