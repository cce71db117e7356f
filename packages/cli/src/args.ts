import { parseArgs, type ParseArgsConfig } from 'node:util';
import { localAdminKey } from './local-key';

/**
 * A mistake in how the command was called: printed with the command's usage line and exit
 * code 1. Its message names the offending option or argument, so the fix is obvious.
 */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to show (`status`, `pools create`), or undefined for the top level. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The options every command takes; they may also stand before the command word. */
export const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** What one command's parse gives back: option values by long name, and the positionals. */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * Parses one command's arguments with node:util parseArgs (strict: an unknown option is an
 * error, not silently ignored) plus the global options, turning parseArgs' own errors into
 * UsageErrors whose message names the option the way the user typed it.
 */
export function parseCommand(command: string, args: string[], options: OptionSpec, maxPositionals: number): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...options }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(describeParseError(err), command);
  }
  if (parsed.positionals.length > maxPositionals) {
    const extra = parsed.positionals[maxPositionals];
    throw new UsageError(`unexpected argument "${extra}"`, command);
  }
  const values: ParsedArgs['values'] = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    // A string or a boolean for each option; a string array for a `multiple` one (`--external-name a --external-name b`).
    if (typeof value === 'string' || typeof value === 'boolean') values[name] = value;
    else if (Array.isArray(value)) values[name] = value.filter((v): v is string => typeof v === 'string');
  }
  return { values, positionals: parsed.positionals };
}

/** parseArgs' messages are long and mention `--` tricks; keep the part a user needs. */
function describeParseError(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const message = err instanceof Error ? err.message : String(err);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) return `unknown option ${quoted}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted) {
    const option = quoted.split(' ')[0];
    if (message.includes('ambiguous')) return `option ${option} needs a value (for one that starts with "-", write ${option}=<value>)`;
    if (message.includes('does not take')) return `option ${option} takes no value`;
    return `option ${option} needs a value`;
  }
  return message;
}

/** The string value of `--name`, or undefined when it was not given. */
export function stringOption(parsed: ParsedArgs, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** The string value of `--name`; a UsageError naming it when it is missing or empty. */
export function requiredOption(parsed: ParsedArgs, name: string, command: string): string {
  const value = stringOption(parsed, name);
  if (value === undefined || value === '') throw new UsageError(`missing --${name}`, command);
  return value;
}

/** Every value of a repeatable (`multiple`) string option, in the order given; [] when it was not given. */
export function stringsOption(parsed: ParsedArgs, name: string): string[] {
  const value = parsed.values[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

export function flag(parsed: ParsedArgs, name: string): boolean {
  return parsed.values[name] === true;
}

/**
 * `--name` as a whole number of at least `min` (the server checks its own upper bounds and
 * answers BAD_USER_INPUT; here we only catch what is not a number at all, before any call).
 */
export function integerOption(parsed: ParsedArgs, name: string, command: string, min = 0): number | undefined {
  const raw = stringOption(parsed, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min) {
    throw new UsageError(`--${name} must be a whole number${min > 0 ? ` of at least ${min}` : ''}, not "${raw}"`, command);
  }
  return Number(raw);
}

/** `--name` as a number of seconds, fractions allowed (e.g. `--grace 0.5`), not negative. */
export function secondsOption(parsed: ParsedArgs, name: string, command: string): number | undefined {
  const raw = stringOption(parsed, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`--${name} must be a number of seconds (0 or more), not "${raw}"`, command);
  }
  return value;
}

/** The first words of the commands named with two words. */
const TWO_WORD_COMMANDS = new Set(['pools', 'apps', 'ledger']);

/** The connection settings of every command. */
export interface Connection {
  url: string | undefined;
  apiKey: string | undefined;
}

/** Flags first, then the environment; without a key, the local server's admin key (local-key.ts). */
export function connectionOf(parsed: ParsedArgs, leading: Connection, env: NodeJS.ProcessEnv, cwd = process.cwd()): Connection {
  const url = stringOption(parsed, 'url') ?? leading.url ?? env.TOKENPOOL_URL;
  return {
    url,
    apiKey: stringOption(parsed, 'api-key') ?? leading.apiKey ?? env.TOKENPOOL_API_KEY ?? localAdminKey(url, cwd),
  };
}

/**
 * Splits `tokenpool [global options] <command> [sub-command] ...`: the global options that
 * stand before the command word, the command words, and the rest. Only the global options
 * may come first, so a typo there is reported as such rather than taken as a command.
 */
export function splitTopLevel(argv: string[]): { leading: Connection; help: boolean; words: string[]; rest: string[] } {
  const leading: Connection = { url: undefined, apiKey: undefined };
  let help = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-')) break;
    if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--url' || arg === '--api-key') {
      const value = argv[i + 1];
      if (value === undefined) throw new UsageError(`option ${arg} needs a value`);
      if (arg === '--url') leading.url = value;
      else leading.apiKey = value;
      i++;
    } else if (arg.startsWith('--url=')) leading.url = arg.slice('--url='.length);
    else if (arg.startsWith('--api-key=')) leading.apiKey = arg.slice('--api-key='.length);
    else throw new UsageError(`unknown option ${arg.split('=')[0]} (put command options after the command)`);
  }
  const words: string[] = [];
  if (i < argv.length) words.push(argv[i++]);
  // `pools create`, `apps create`, `ledger export` are two words; the second is part of the command.
  if (TWO_WORD_COMMANDS.has(words[0]) && i < argv.length && !argv[i].startsWith('-')) words.push(argv[i++]);
  return { leading, help, words, rest: argv.slice(i) };
}
