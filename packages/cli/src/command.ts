import type { TokenpoolClient } from '@tokenpool/client';
import type { Connection, OptionSpec, ParsedArgs } from './args';

/** Where a command writes and what it reads from its surroundings; tests can pass their own. */
export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

export interface CommandContext {
  io: Io;
  connection: Connection;
  /** The SDK client for this invocation, made on first use (so `--help` needs no server). */
  client(): TokenpoolClient;
}

/**
 * One `tokenpool` command: its parsing rules and help, and what it does. `run` resolves with
 * the exit code; failures it does not handle itself (a TokenpoolError, a UsageError) are
 * mapped to exit codes by main.ts in one place.
 */
export interface Command {
  /** The words that select it: `status`, `pools create`. */
  name: string;
  summary: string;
  /** The full `--help` text: usage line, options, examples. */
  help: string;
  options: OptionSpec;
  maxPositionals: number;
  /** `run` takes everything after `--` as the child command. */
  takesCommand?: boolean;
  run(parsed: ParsedArgs, context: CommandContext, childCommand: string[]): Promise<number>;
}

/** The lines every command's help ends with. */
export const CONNECTION_HELP = `Connection:
  --url <url>        the tokenpool server (default $TOKENPOOL_URL, else http://localhost:3000)
  --api-key <key>    the API key (default $TOKENPOOL_API_KEY); never printed
  -h, --help         this help`;
