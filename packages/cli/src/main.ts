import { TokenpoolClient, TokenpoolError } from '@tokenpool/client';
import { connectionOf, parseCommand, splitTopLevel, UsageError, type Connection } from './args';
import type { Command, CommandContext, Io } from './command';
import { appsCreateCommand, poolsCreateCommand } from './commands/admin';
import { borrowCommand, returnCommand, revocationsCommand, verifyProofCommand } from './commands/borrow';
import { budgetsCommand } from './commands/budgets';
import { importCommand } from './commands/import';
import { leasesCommand } from './commands/leases';
import { ledgerExportCommand, ledgerVerifyCommand } from './commands/ledger';
import { mcpCommand } from './commands/mcp';
import { revokeCommand } from './commands/revoke';
import { runCommand } from './commands/run';
import { statusCommand } from './commands/status';
import { ExitCode, exitCodeForError } from './exit-codes';

/**
 * The `tokenpool` command line: picks the command, parses its options, runs it, and turns
 * every way it can fail into a message on stderr and one of the exit codes of the spec
 * (exit-codes.ts), in this one place so that all commands agree.
 */

export const COMMANDS: readonly Command[] = [
  statusCommand,
  runCommand,
  leasesCommand,
  budgetsCommand,
  revokeCommand,
  borrowCommand,
  returnCommand,
  verifyProofCommand,
  revocationsCommand,
  poolsCreateCommand,
  appsCreateCommand,
  importCommand,
  ledgerExportCommand,
  ledgerVerifyCommand,
  mcpCommand,
];

export const TOP_HELP = `Usage: tokenpool [--url <url>] [--api-key <key>] <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(14)}${c.summary}`).join('\n')}

Run \`tokenpool <command> --help\` for a command's options.

Settings: --url or $TOKENPOOL_URL (default http://localhost:3000), --api-key or
$TOKENPOOL_API_KEY.
Exit codes: 0 success, 1 usage error, 65 data error (ledger verify: a seal does not
match), 69 refused (no credits, queue timeout, budget, borrowing not allowed that long), 75
lease lost while a command ran (verify-proof: EXPIRED or REVOKED), 77 bad or unauthorised
key (verify-proof: BAD_SIGNATURE).`;

/** API keys look like tp_<hex>; any that slips into a message (an echoed argument) is masked. */
export function redactKeys(text: string, connection?: Connection): string {
  let out = text.replace(/tp_[0-9A-Za-z]{8,}/g, 'tp_***');
  if (connection?.apiKey && connection.apiKey.length >= 4) out = out.split(connection.apiKey).join('***');
  return out;
}

/**
 * Runs one invocation and resolves with its exit code. `io` defaults to the process's own
 * streams and environment; the client is made lazily, so `--help` and usage errors never
 * need a server.
 */
export async function run(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  let connection: Connection | undefined;
  let client: TokenpoolClient | undefined;
  let command: Command | undefined;
  const fail = (message: string) => io.stderr.write(`${redactKeys(message, connection)}\n`);
  try {
    const top = splitTopLevel(argv);
    if (top.words.length === 0) {
      if (top.help) {
        io.stdout.write(`${TOP_HELP}\n`);
        return ExitCode.OK;
      }
      throw new UsageError('missing the command');
    }
    const name = top.words.join(' ');
    command = COMMANDS.find((c) => c.name === name);
    if (!command) {
      const prefix =
        top.words[0] === 'pools' || top.words[0] === 'apps'
          ? ` (did you mean \`tokenpool ${top.words[0]} create\`?)`
          : top.words[0] === 'ledger'
            ? ' (did you mean `tokenpool ledger export` or `tokenpool ledger verify`?)'
            : '';
      throw new UsageError(`unknown command "${name}"${prefix}`);
    }
    let rest = top.rest;
    let childCommand: string[] = [];
    if (command.takesCommand) {
      const dashes = rest.indexOf('--');
      if (dashes >= 0) [rest, childCommand] = [rest.slice(0, dashes), rest.slice(dashes + 1)];
    }
    const parsed = parseCommand(command.name, rest, command.options, command.maxPositionals);
    if (top.help || parsed.values.help === true) {
      io.stdout.write(`${command.help}\n`);
      return ExitCode.OK;
    }
    const settings = connectionOf(parsed, top.leading, io.env);
    connection = settings;
    const context: CommandContext = {
      io,
      connection: settings,
      client: () => (client ??= new TokenpoolClient({ url: settings.url, apiKey: settings.apiKey })),
    };
    return await command.run(parsed, context, childCommand);
  } catch (err) {
    if (err instanceof UsageError) {
      const which = err.command ?? command?.name;
      fail(`tokenpool${which ? ` ${which}` : ''}: ${err.message}`);
      fail(which ? `Run \`tokenpool ${which} --help\` for its usage.` : 'Run `tokenpool --help` for the commands.');
      return ExitCode.USAGE;
    }
    if (err instanceof TokenpoolError) {
      fail(`tokenpool: ${describeError(err, connection)}`);
      return exitCodeForError(err.code);
    }
    fail(`tokenpool: ${err instanceof Error ? err.message : String(err)}`);
    return ExitCode.USAGE;
  } finally {
    await client?.close().catch(() => undefined);
  }
}

/** The server's message, with the figures that make a refusal actionable and the code that scripts grep for. */
export function describeError(err: TokenpoolError, connection?: Connection): string {
  const figures: string[] = [];
  if (err.available !== undefined) figures.push(`available ${err.available}`);
  if (err.requested !== undefined) figures.push(`requested ${err.requested}`);
  if (err.queueLength !== undefined) figures.push(`queue ${err.queueLength}`);
  if (err.retryAfterSeconds !== undefined) figures.push(`retry after ${err.retryAfterSeconds} s`);
  if (err.maxBorrowHours !== undefined) figures.push(`maxBorrowHours ${err.maxBorrowHours}`);
  let text = `${err.message} (${err.code}${figures.length ? `; ${figures.join(', ')}` : ''})`;
  if (err.code === 'UNAUTHENTICATED' && !connection?.apiKey) text += '; set TOKENPOOL_API_KEY or pass --api-key';
  return text;
}

/** The bin's entry point: runs, then exits with the code once stdout has drained. */
export async function main(argv: string[]): Promise<void> {
  // `tokenpool status | head -1`: a reader that went away is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const code = await run(argv);
  process.exitCode = code;
  // Stray handles (a keep-alive socket, a subscription's socket) must not keep a finished command alive.
  process.stdout.write('', () => process.exit(code));
}
