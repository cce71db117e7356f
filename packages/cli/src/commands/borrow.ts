import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { TokenpoolError, verifyProofOffline, type BorrowedLease, type JSONWebKeySet, type ProofClaims, type TokenpoolClient } from '@tokenpool/client';
import { flag, integerOption, requiredOption, stringOption, UsageError, type ParsedArgs } from '../args';
import { CONNECTION_HELP, type Command } from '../command';
import { ExitCode, exitCodeForError } from '../exit-codes';
import { localTime } from '../format';
import { resolvePool } from '../resolve';

/**
 * Offline borrowing: `tokenpool borrow` takes a lease for hours or days and saves its proof
 * and the server's public keys, so a tool on a laptop can check its right to run with no
 * network; `tokenpool return` gives it back early; `tokenpool verify-proof` is that offline
 * check; `tokenpool revocations` saves the organization's signed list of revoked borrows.
 */

/** What `tokenpool borrow` was asked to do. */
export interface BorrowArgs {
  pool: string;
  app: string;
  hours: number;
  host: string;
  /** A work unit's externalRef (created if new), as with `tokenpool run`. */
  workUnit?: string;
  /** Where the proof (the JWT) goes. */
  out: string;
  /** Where the public keys (the JWKS) go: `<out>.jwks.json` unless --keys-out. */
  keysOut: string;
  json: boolean;
}

/** Where the keys go beside a proof file when no path is given. */
export function keysPathFor(proofPath: string): string {
  return `${proofPath}.jwks.json`;
}

export function parseBorrowArgs(parsed: ParsedArgs, defaultHost: string = hostname()): BorrowArgs {
  const out = requiredOption(parsed, 'out', 'borrow');
  const hours = integerOption(parsed, 'hours', 'borrow', 1);
  if (hours === undefined) throw new UsageError('missing --hours (how long to borrow, 1 to the pool’s maxBorrowHours)', 'borrow');
  const keysOut = stringOption(parsed, 'keys-out') ?? keysPathFor(out);
  if (keysOut === out) throw new UsageError('--keys-out must not be the --out file', 'borrow');
  return {
    pool: requiredOption(parsed, 'pool', 'borrow'),
    app: requiredOption(parsed, 'app', 'borrow'),
    hours,
    host: stringOption(parsed, 'host') || defaultHost,
    workUnit: stringOption(parsed, 'work-unit'),
    out,
    keysOut,
    json: flag(parsed, 'json'),
  };
}

/**
 * Writes a file whole: a temp file beside it, then a rename, so a reader sees the old file or
 * the new one. The mode is the temp file's, so an existing file's wider mode is not kept.
 */
export function writeFileAtomic(path: string, content: string, mode: number): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temp, content, { mode });
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/** `borrow --json`'s document. */
export interface BorrowDocument {
  leaseId: string;
  pool: { id: string; name: string };
  app: string;
  host: string | null;
  credits: number;
  fencingToken: string;
  acquiredAt: string;
  borrowedUntil: string;
  proofFile: string;
  keysFile: string;
}

export function borrowDocument(lease: BorrowedLease, pool: { id: string; name: string }, files: { proofFile: string; keysFile: string }): BorrowDocument {
  return {
    leaseId: lease.id,
    pool: { id: pool.id, name: pool.name },
    app: lease.app,
    host: lease.host,
    credits: lease.credits,
    fencingToken: lease.fencingToken,
    acquiredAt: lease.acquiredAt.toISOString(),
    borrowedUntil: lease.borrowedUntil.toISOString(),
    ...files,
  };
}

export function renderBorrow(doc: BorrowDocument): string {
  return [
    `Borrowed ${doc.app} from pool ${doc.pool.name}: lease ${doc.leaseId}, ${doc.credits} credits, host ${doc.host ?? '-'}`,
    `Until:  ${localTime(new Date(doc.borrowedUntil))} (${doc.borrowedUntil})`,
    `Proof:  ${doc.proofFile} (mode 600)`,
    `Keys:   ${doc.keysFile}`,
    `Check offline:  tokenpool verify-proof ${doc.proofFile}${doc.keysFile === keysPathFor(doc.proofFile) ? '' : ` --keys ${doc.keysFile}`}`,
    `Return early:   tokenpool return ${doc.leaseId}`,
  ].join('\n');
}

async function borrow(args: BorrowArgs, client: TokenpoolClient): Promise<BorrowDocument> {
  const pool = await resolvePool(client, args.pool, 'borrow');
  const workUnitId = args.workUnit === undefined ? undefined : (await client.upsertWorkUnit({ externalRef: args.workUnit })).id;
  // The keys first: a server whose keys cannot be read is found out before anything is borrowed.
  const keys = await client.jwks();
  const lease = await client.borrow({ poolId: pool.id, app: args.app, hours: args.hours, host: args.host, workUnitId });
  try {
    if (!lease.proof) throw new TokenpoolError('INTERNAL_SERVER_ERROR', `the server gave no proof for lease ${lease.id}`);
    // The keys first: a proof file exists only once the keys to check it are beside it.
    writeFileAtomic(args.keysOut, `${JSON.stringify(keys, null, 2)}\n`, 0o644);
    writeFileAtomic(args.out, lease.proof, 0o600);
  } catch (err) {
    // A borrow without its proof on disk is of no use offline: give it back rather than hold credits for nothing.
    await client.returnBorrowed(lease.id).catch(() => undefined);
    if (err instanceof TokenpoolError) throw err;
    throw new Error(`could not write the proof (${err instanceof Error ? err.message : String(err)}); lease ${lease.id} was returned`);
  }
  return borrowDocument(lease, pool, { proofFile: args.out, keysFile: args.keysOut });
}

export const borrowCommand: Command = {
  name: 'borrow',
  summary: 'borrow an app for hours or days, to run offline (proof and keys saved to files)',
  help: `Usage: tokenpool borrow --pool <id or name> --app <key> --hours <n> --out <file> [options]

Borrows an app for a number of hours: the lease needs no heartbeat and holds its credits
until then or until \`tokenpool return\`. Its proof (a JWT whose exp is the end of the
borrow) is written to --out (mode 600), and the server's public keys beside it, so a tool
can verify the proof with no network (\`tokenpool verify-proof\`, or any JWT library).
The pool must allow borrowing that long (its maxBorrowHours); otherwise exit 69.

Options:
  --pool <id|name>     the pool to borrow from (required)
  --app <key>          the app to borrow (required)
  --hours <n>          how long, 1 to the pool's maxBorrowHours (required)
  --out <file>         where to write the proof, just the JWT text (required)
  --keys-out <file>    where to write the public keys (default: <out>.jwks.json)
  --host <host>        the host recorded on the lease (default: this machine's name)
  --work-unit <ref>    charge the borrow to this work unit (your id for it; created if new)
  --json               print the lease and the files as JSON

Exit codes: 0 borrowed; 69 refused (borrowing not allowed that long, no credits); 77 bad or
unauthorised key; 1 usage error.

${CONNECTION_HELP}`,
  options: {
    pool: { type: 'string' },
    app: { type: 'string' },
    hours: { type: 'string' },
    out: { type: 'string' },
    'keys-out': { type: 'string' },
    host: { type: 'string' },
    'work-unit': { type: 'string' },
    json: { type: 'boolean' },
  },
  maxPositionals: 0,
  async run(parsed, context) {
    const args = parseBorrowArgs(parsed);
    const doc = await borrow(args, context.client());
    context.io.stdout.write(args.json ? `${JSON.stringify(doc, null, 2)}\n` : `${renderBorrow(doc)}\n`);
    return ExitCode.OK;
  },
};

export const returnCommand: Command = {
  name: 'return',
  summary: 'return a borrowed lease early; its credits are free at once',
  help: `Usage: tokenpool return <lease id> [--json]

Returns a borrowed lease before its time is up (the id \`tokenpool borrow\` printed). Its
credits are free at once and its proof should no longer be used. Returning a lease that has
already ended changes nothing and prints how it ended.

Options:
  --json             print the lease as JSON

${CONNECTION_HELP}`,
  options: { json: { type: 'boolean' } },
  maxPositionals: 1,
  async run(parsed, context) {
    const leaseId = parsed.positionals[0];
    if (!leaseId) throw new UsageError('missing the lease id (`tokenpool borrow` printed it)', 'return');
    const lease = await context.client().returnBorrowed(leaseId);
    if (flag(parsed, 'json')) context.io.stdout.write(`${JSON.stringify(lease, null, 2)}\n`);
    else context.io.stdout.write(`Lease ${lease.id}: ${lease.state}${lease.endedAt ? ` at ${localTime(lease.endedAt)}` : ''}\n`);
    return ExitCode.OK;
  },
};

/** What `tokenpool verify-proof` was asked to check. */
export interface VerifyArgs {
  proofFile: string;
  keysFile: string;
  revocationsFile?: string;
  /** Check as of this time instead of now (`--at`: "will it still be valid on Friday?"). */
  at?: Date;
  json: boolean;
}

export function parseVerifyArgs(parsed: ParsedArgs): VerifyArgs {
  const proofFile = parsed.positionals[0];
  if (!proofFile) throw new UsageError('missing the proof file (`tokenpool borrow --out` wrote it)', 'verify-proof');
  const atText = stringOption(parsed, 'at');
  const at = atText === undefined ? undefined : new Date(atText);
  if (at && Number.isNaN(at.getTime()))
    throw new UsageError(`--at must be a date and time (ISO 8601, e.g. 2026-12-24T18:00:00Z), not "${atText}"`, 'verify-proof');
  return {
    proofFile,
    at,
    keysFile: stringOption(parsed, 'keys') ?? keysPathFor(proofFile),
    revocationsFile: stringOption(parsed, 'revocations'),
    json: flag(parsed, 'json'),
  };
}

function readInput(path: string, what: string): string {
  if (!existsSync(path)) throw new UsageError(`no ${what} at ${path}`, 'verify-proof');
  return readFileSync(path, 'utf8').trim();
}

/** The saved keys; a usage error when the file is not a JWKS. */
export function readKeys(path: string): JSONWebKeySet {
  const text = readInput(path, 'keys file (--keys)');
  let keys: unknown;
  try {
    keys = JSON.parse(text);
  } catch {
    throw new UsageError(`${path} is not JSON: --keys takes the JWKS \`tokenpool borrow\` saved (/.well-known/jwks.json)`, 'verify-proof');
  }
  if (typeof keys !== 'object' || keys === null || !Array.isArray((keys as { keys?: unknown }).keys)) {
    throw new UsageError(`${path} is not a JWKS ({ "keys": [...] })`, 'verify-proof');
  }
  return keys as JSONWebKeySet;
}

/** `verify-proof --json`'s document: the claims when valid, the code and message otherwise. */
export type VerifyDocument =
  | { valid: true; leaseId: string; organization: string; pool: string; app: string; expiresAt: string; claims: ProofClaims }
  | { valid: false; code: string; message: string };

export function verifiedDocument(claims: ProofClaims): VerifyDocument {
  return {
    valid: true,
    leaseId: claims.sub,
    organization: claims.org,
    pool: claims.pool,
    app: claims.app,
    expiresAt: new Date(claims.exp * 1000).toISOString(),
    claims,
  };
}

export const verifyProofCommand: Command = {
  name: 'verify-proof',
  summary: 'check a lease proof offline, with saved keys (and a saved revocation list)',
  help: `Usage: tokenpool verify-proof <proof file> [--keys <jwks file>] [--revocations <file>] [--json]

Checks a lease proof with no network: its signature against the saved public keys, that it
is a lease proof (typ JWT), and that it has not expired; with --revocations, also that the
organization's revocation list (\`tokenpool revocations --out\`) does not name its lease.

Options:
  --keys <file>         the saved public keys (default: <proof file>.jwks.json)
  --revocations <file>  a saved revocation list (a JWS, verified with the same keys)
  --at <time>           check as of this time (ISO 8601) instead of now
  --json                print the result as JSON

Exit codes: 0 valid; 75 EXPIRED or REVOKED (the lease is over: borrow again); 77
BAD_SIGNATURE (not a valid proof for these keys); 1 usage error (a file missing or unreadable).`,
  options: { keys: { type: 'string' }, revocations: { type: 'string' }, at: { type: 'string' }, json: { type: 'boolean' } },
  maxPositionals: 1,
  async run(parsed, context) {
    const args = parseVerifyArgs(parsed);
    const proof = readInput(args.proofFile, 'proof file');
    const keys = readKeys(args.keysFile);
    const revocationList = args.revocationsFile === undefined ? undefined : readInput(args.revocationsFile, 'revocation list (--revocations)');
    let claims: ProofClaims;
    try {
      claims = await verifyProofOffline(proof, { keys, revocationList, now: args.at });
    } catch (err) {
      if (!(err instanceof TokenpoolError) || !args.json) throw err;
      const doc: VerifyDocument = { valid: false, code: err.code, message: err.message };
      context.io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      return exitCodeForError(err.code);
    }
    const doc = verifiedDocument(claims);
    if (args.json) context.io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    else context.io.stdout.write(`Valid: lease ${claims.sub} (app ${claims.app}, pool ${claims.pool}) until ${localTime(new Date(claims.exp * 1000))}\n`);
    return ExitCode.OK;
  },
};

export const revocationsCommand: Command = {
  name: 'revocations',
  summary: "the organization's signed list of revoked borrows, to save for offline checks",
  help: `Usage: tokenpool revocations [--out <file>] [--json]

Fetches the organization's revocation list (GET /.well-known/revoked-leases/<org id>),
verifies its signature, prints the revoked borrowed leases and, with --out, saves the signed
list for \`tokenpool verify-proof --revocations\`.

Options:
  --out <file>       save the signed list (the JWS text) here
  --json             print the list's claims as JSON

${CONNECTION_HELP}`,
  options: { out: { type: 'string' }, json: { type: 'boolean' } },
  maxPositionals: 0,
  async run(parsed, context) {
    const list = await context.client().revocationList();
    const out = stringOption(parsed, 'out');
    if (out) writeFileAtomic(out, list.jws, 0o644);
    const { jws: _jws, ...claims } = list;
    void _jws;
    if (flag(parsed, 'json')) {
      context.io.stdout.write(`${JSON.stringify(claims, null, 2)}\n`);
      return ExitCode.OK;
    }
    const lines = [`Revocation list of organization ${list.org}, signed ${localTime(new Date(list.iat * 1000))}: ${list.revoked.length} revoked borrow(s)`];
    for (const r of list.revoked) {
      lines.push(`  ${r.leaseId}  revoked ${localTime(new Date(r.revokedAt * 1000))}, borrowed until ${localTime(new Date(r.borrowedUntil * 1000))}`);
    }
    if (out) lines.push(`Saved to ${out}`);
    context.io.stdout.write(`${lines.join('\n')}\n`);
    return ExitCode.OK;
  },
};
