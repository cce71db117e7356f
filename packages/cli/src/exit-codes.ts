/**
 * The exit codes of `tokenpool`, fixed by the clients spec (docs/clients.md section 2) so that
 * scripts and schedulers can tell "try again later" from "fix your key" from "fix your call".
 * The non-zero ones follow BSD sysexits(3), which batch systems already understand.
 */
export const ExitCode = {
  /** The command did what was asked (for `run`: the child's own code is passed on instead). */
  OK: 0,
  /** A usage error (unknown option, missing argument, unknown pool), or any other failure. */
  USAGE: 1,
  /** EX_DATAERR: the input data is wrong: an audit export whose seals do not match its rows (`ledger verify`). */
  DATA_ERROR: 65,
  /** EX_UNAVAILABLE: the server refused the check-out (no credits, queue timeout, budget, borrowing not allowed that long). */
  REFUSED: 69,
  /** EX_TEMPFAIL: the lease was lost (revoked, ended, not renewed in time) while a command ran; or a proof checked offline is EXPIRED or REVOKED. */
  LEASE_LOST: 75,
  /** EX_NOPERM: the API key is missing, unknown, revoked, expired, or its role may not do this; or a proof is not valid (BAD_SIGNATURE). */
  NO_PERMISSION: 77,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Server error codes that mean "the pool said no": worth retrying later, nothing to fix. */
const REFUSALS = new Set(['POOL_EXHAUSTED', 'GROUP_LIMIT_REACHED', 'QUEUE_TIMEOUT', 'BUDGET_EXHAUSTED', 'BORROW_NOT_ALLOWED']);
/** Codes that mean "this credential may not": retrying will not help, the key (or the proof) must change. */
const KEY_PROBLEMS = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_SIGNATURE']);
/** The proof checks' codes for a lease that is over (`verify-proof`): as for a lease lost, borrow or check out again. */
const LEASE_OVER = new Set(['EXPIRED', 'REVOKED']);

/**
 * The exit code for a failure the server answered with `code` (a TokenpoolError's code), or
 * for a failure without one (`undefined`: a network error, a bug). Everything that is neither a
 * refusal nor a key problem is 1: the spec keeps 69, 75 and 77 for the cases a caller acts on.
 */
export function exitCodeForError(code: string | undefined): ExitCodeValue {
  if (code !== undefined && REFUSALS.has(code)) return ExitCode.REFUSED;
  if (code !== undefined && KEY_PROBLEMS.has(code)) return ExitCode.NO_PERMISSION;
  if (code !== undefined && LEASE_OVER.has(code)) return ExitCode.LEASE_LOST;
  return ExitCode.USAGE;
}

/**
 * The exit code a shell would report for a child that ended with `code` or died of `signal`:
 * 128 + the signal's number, as bash does, so `tokenpool run` is transparent to its caller.
 */
export function exitCodeForChild(code: number | null, signal: NodeJS.Signals | null, signalNumbers: Record<string, number>): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + (signalNumbers[signal] ?? 0);
  return ExitCode.USAGE;
}
