import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { constants, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenpoolError, type Lease } from '@tokenpool/client';
import { flag, integerOption, requiredOption, secondsOption, stringOption, UsageError } from '../args';
import { CONNECTION_HELP, type Command, type CommandContext } from '../command';
import { ExitCode, exitCodeForChild } from '../exit-codes';
import { localTime } from '../format';
import { resolvePool } from '../resolve';

/**
 * `tokenpool run`: hold a lease exactly as long as a command runs. The lease is the command's
 * licence, so its lifecycle follows the child's: checked out before the child starts,
 * heartbeated (by the SDK) while it runs, checked in when it ends; and when the lease is lost
 * the child is stopped, because it no longer has the right to run.
 */

/** Default time between SIGTERM and SIGKILL once the lease is lost: long enough to save work. */
export const DEFAULT_GRACE_SECONDS = 30;

/**
 * Signals the CLI passes on to the child instead of dying of them, so the child decides how
 * to stop and the lease is checked in after it has. SIGINT and SIGQUIT from a terminal already
 * reach the child (the terminal signals the whole foreground process group), so they are
 * passed on only when the CLI does not run on a terminal, or the child would get each twice.
 */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
const FROM_TERMINAL: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGQUIT']);

export interface RunOptions {
  pool: string;
  app: string;
  host: string;
  waitSeconds?: number;
  leaseSeconds?: number;
  workUnit?: string;
  graceSeconds: number;
  quiet: boolean;
}

/**
 * The proof file: a private temp dir (mkdtemp makes it 0700) holding one file (0600) that is
 * replaced whole by rename, so a reader never sees half a token: it sees the old proof or
 * the new one.
 */
export class ProofFile {
  readonly dir = mkdtempSync(join(tmpdir(), 'tokenpool-run-'));
  readonly path = join(this.dir, 'lease-proof.jwt');
  #writes = 0;

  write(proof: string): void {
    const temp = join(this.dir, `.lease-proof.${++this.#writes}.tmp`);
    writeFileSync(temp, `${proof}\n`, { mode: 0o600 });
    renameSync(temp, this.path);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const runCommand: Command = {
  name: 'run',
  summary: 'check a lease out, run a command while holding it, check it in when the command ends',
  help: `Usage: tokenpool run --pool <id or name> --app <key> [options] -- <command> [args...]

Checks out a lease, runs the command with the lease in its environment, keeps the lease
alive while the command runs and checks it in when the command exits. Exits with the
command's exit code (128 + the signal's number when a signal ended it).

Options:
  --pool <id|name>       the pool to check out from (required)
  --app <key>            the app to check out (required)
  --wait <s>             wait up to this many seconds in the pool's fair queue (0-300)
  --work-unit <ref>      charge the lease to this work unit (your id for it; created if new)
  --host <host>          the host recorded on the lease (default: this machine's name)
  --lease-seconds <s>    lease length; heartbeats renew it (default: the pool's)
  --grace <s>            after the lease is lost, SIGKILL this long after SIGTERM (default 30)
  --quiet                print nothing of its own unless something goes wrong

The command's environment:
  TOKENPOOL_LEASE_ID          the lease id
  TOKENPOOL_FENCING_TOKEN     the lease's fencing token
  TOKENPOOL_LEASE_PROOF       the lease's first proof (a JWT)
  TOKENPOOL_LEASE_PROOF_FILE  a file (mode 600) rewritten with a fresh proof at every heartbeat

Exit codes: the command's own; 69 check-out refused; 75 lease lost while the command ran
(SIGTERM, then SIGKILL after --grace); 77 bad or unauthorised key; 1 usage error.
Ctrl+C, SIGTERM and SIGHUP are passed on to the command; the lease is checked in once it ends.

${CONNECTION_HELP}`,
  options: {
    pool: { type: 'string' },
    app: { type: 'string' },
    wait: { type: 'string' },
    'work-unit': { type: 'string' },
    host: { type: 'string' },
    'lease-seconds': { type: 'string' },
    grace: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  maxPositionals: 0,
  takesCommand: true,
  async run(parsed, context, childCommand) {
    const options: RunOptions = {
      pool: requiredOption(parsed, 'pool', 'run'),
      app: requiredOption(parsed, 'app', 'run'),
      host: stringOption(parsed, 'host') ?? hostname(),
      waitSeconds: integerOption(parsed, 'wait', 'run'),
      leaseSeconds: integerOption(parsed, 'lease-seconds', 'run', 1),
      workUnit: stringOption(parsed, 'work-unit'),
      graceSeconds: secondsOption(parsed, 'grace', 'run') ?? DEFAULT_GRACE_SECONDS,
      quiet: flag(parsed, 'quiet'),
    };
    if (childCommand.length === 0 || childCommand[0] === '') {
      throw new UsageError('missing the command to run: put it after --, as in `tokenpool run --pool P --app A -- make all`', 'run');
    }
    return runWithLease(options, childCommand, context);
  },
};

async function runWithLease(options: RunOptions, command: string[], context: CommandContext): Promise<number> {
  const client = context.client();
  const { stderr } = context.io;
  const pool = await resolvePool(client, options.pool, 'run');
  const workUnitId = options.workUnit === undefined ? undefined : (await client.upsertWorkUnit({ externalRef: options.workUnit })).id;
  if (options.waitSeconds && !options.quiet) stderr.write(`tokenpool: waiting up to ${options.waitSeconds} s for ${options.app} in pool ${pool.name}\n`);
  let lease: Lease;
  try {
    lease = await client.checkout({
      poolId: pool.id,
      app: options.app,
      host: options.host,
      workUnitId,
      leaseSeconds: options.leaseSeconds,
      waitSeconds: options.waitSeconds,
      refreshProof: true,
    });
  } catch (err) {
    // The server's advice names its own API (waitSeconds); say what it is called here.
    const refusedNow = err instanceof TokenpoolError && (err.code === 'POOL_EXHAUSTED' || err.code === 'GROUP_LIMIT_REACHED');
    if (refusedNow && !options.waitSeconds) stderr.write(`tokenpool: --wait <seconds> waits in the pool's fair queue instead\n`);
    throw err;
  }
  if (!options.quiet) {
    stderr.write(
      `tokenpool: lease ${lease.id}: ${lease.credits} credits of pool ${pool.name} for ${options.app} on ${options.host}, ` +
        `${lease.leaseSeconds} s at a time, renewed while the command runs\n`,
    );
  }
  return new LeaseRun(lease, options, command, context).run();
}

/** One child process under one lease, and the cleanup that must happen whichever way it ends. */
class LeaseRun {
  readonly #proofFile = new ProofFile();
  #lost: string | undefined;
  #killTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly lease: Lease,
    private readonly options: RunOptions,
    private readonly command: string[],
    private readonly context: CommandContext,
  ) {}

  async run(): Promise<number> {
    const { stderr } = this.context.io;
    const lease = this.lease;
    let child: ChildProcess | undefined;
    // A signal that arrives before the child exists is delivered to it as soon as it does.
    let pending: NodeJS.Signals | undefined;
    // Until the child has ended and the lease is checked in, these signals are the child's business.
    const onSignal = (signal: NodeJS.Signals) => {
      if (FROM_TERMINAL.has(signal) && process.stdin.isTTY) return;
      if (child) child.kill(signal);
      else pending = signal;
    };
    for (const signal of FORWARDED) process.on(signal, onSignal);
    let offHeartbeat: () => void = () => undefined;
    try {
      this.writeProof(lease.proof);
      offHeartbeat = lease.onHeartbeat((renewed) => this.writeProof(renewed.proof));
      const started = spawn(this.command[0], this.command.slice(1), {
        stdio: 'inherit',
        env: {
          ...this.context.io.env,
          TOKENPOOL_LEASE_ID: lease.id,
          TOKENPOOL_FENCING_TOKEN: lease.fencingToken,
          ...(lease.proof ? { TOKENPOOL_LEASE_PROOF: lease.proof } : {}),
          TOKENPOOL_LEASE_PROOF_FILE: this.#proofFile.path,
        },
      });
      child = started;
      if (pending) started.kill(pending);
      const onLost = () => this.onLost(started);
      // A lease lost before the child started is lost all the same (an aborted signal fires no event).
      if (lease.signal.aborted) onLost();
      else lease.signal.addEventListener('abort', onLost, { once: true });
      const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: NodeJS.ErrnoException }>((resolve) => {
        started.once('error', (error: NodeJS.ErrnoException) => resolve({ error }));
        started.once('exit', (code, signal) => resolve({ code, signal }));
      });
      lease.signal.removeEventListener('abort', onLost);
      if (this.#killTimer) clearTimeout(this.#killTimer);
      offHeartbeat();
      if (this.#lost === undefined) await this.checkIn();
      if (this.#lost !== undefined) {
        stderr.write(`tokenpool: ${this.command[0]} has ended; exit code 75 as the lease was lost\n`);
        return ExitCode.LEASE_LOST;
      }
      if ('error' in ended) {
        stderr.write(`tokenpool: could not start ${this.command[0]}: ${ended.error.message}\n`);
        // The shell's codes: 127 not found, 126 found but not runnable.
        return ended.error.code === 'ENOENT' ? 127 : 126;
      }
      return exitCodeForChild(ended.code, ended.signal, constants.signals);
    } finally {
      offHeartbeat();
      for (const signal of FORWARDED) process.off(signal, onSignal);
      this.#proofFile.remove();
    }
  }

  /** The lease ended under the child: stop it, gently first, since it may no longer use the licence. */
  private onLost(child: ChildProcess): void {
    const reason: unknown = this.lease.signal.reason;
    const why = reason instanceof Error ? reason.message : String(reason);
    const code = typeof reason === 'object' && reason !== null && 'code' in reason ? ` [${String(reason.code)}]` : '';
    // The SDK's messages usually name the lease already; name it once either way.
    this.#lost = `${why.includes(this.lease.id) ? why : `lease ${this.lease.id}: ${why}`}${code}`;
    const grace = this.options.graceSeconds;
    this.context.io.stderr.write(
      `tokenpool: lease lost: ${this.#lost}; sending SIGTERM to ${this.command[0]} (SIGKILL in ${grace} s if it is still running)\n`,
    );
    child.kill('SIGTERM');
    this.#killTimer = setTimeout(() => child.kill('SIGKILL'), grace * 1000);
  }

  private writeProof(proof: string | null | undefined): void {
    if (!proof) return;
    try {
      this.#proofFile.write(proof);
    } catch (err) {
      this.context.io.stderr.write(`tokenpool: could not write the proof file: ${(err as Error).message}\n`);
    }
  }

  /** A failed check-in is not the command's failure: the lease then expires by itself at its expiry. */
  private async checkIn(): Promise<void> {
    try {
      await this.lease.release();
    } catch (err) {
      const at = localTime(new Date(this.lease.expiresAt));
      this.context.io.stderr.write(`tokenpool: could not check lease ${this.lease.id} in (${(err as Error).message}); it expires by itself at ${at}\n`);
    }
  }
}
