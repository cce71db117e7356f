import type { TokenpoolClient } from '@tokenpool/client';
import { flag, secondsOption, UsageError } from '../args';
import { CONNECTION_HELP, type Command, type CommandContext } from '../command';
import { ExitCode } from '../exit-codes';
import { localTime, money, percent, plural, table } from '../format';

/**
 * `tokenpool budgets`: every compute budget the key may see, with what is spent, held and
 * left in its current period; `status` for money instead of credits. The JSON form carries
 * the same data, with field names that are part of the CLI's contract (README.md).
 */

/** One budget as `budgets` shows it. */
export interface BudgetStatus {
  id: string;
  name: string;
  scope: 'ORGANIZATION' | 'TEAM' | 'PRINCIPAL' | 'WORK_UNIT';
  /** TEAM budgets: the team; null otherwise. */
  team: string | null;
  /** PRINCIPAL budgets: the principal's name; null otherwise. */
  principal: string | null;
  /** WORK_UNIT budgets: the work unit's externalRef; null otherwise. */
  workUnit: string | null;
  period: 'DAY' | 'MONTH' | 'TOTAL';
  /** Start of the current period (ISO 8601, UTC); null for TOTAL. */
  periodStart: string | null;
  limit: number;
  spent: number;
  reserved: number;
  remaining: number;
  /** (spent + reserved) / limit in percent, 2 decimals (above 100 when settlements overran); null for a limit of 0. */
  percentUsed: number | null;
}

export interface BudgetsDocument {
  /** When the figures were read (ISO 8601, UTC). */
  generatedAt: string;
  /** The organization's currency (ISO 4217), of every amount. */
  currency: string;
  /** Oldest budget first, as the API lists them. */
  budgets: BudgetStatus[];
}

/** The one request a snapshot takes: the currency and the budgets with their live figures. */
export const BUDGETS_QUERY = /* GraphQL */ `
  query TokenpoolCliBudgets {
    me {
      organization {
        currency
      }
    }
    computeBudgets {
      id
      name
      scope
      team
      period
      limit
      spent
      reserved
      remaining
      periodStart
      principal {
        name
      }
      workUnit {
        externalRef
      }
    }
  }
`;

/** What BUDGETS_QUERY answers. */
export interface BudgetsAnswer {
  me: { organization: { currency: string } };
  computeBudgets: {
    id: string;
    name: string;
    scope: BudgetStatus['scope'];
    team: string | null;
    period: BudgetStatus['period'];
    limit: number;
    spent: number;
    reserved: number;
    remaining: number;
    periodStart: string | null;
    principal: { name: string } | null;
    workUnit: { externalRef: string } | null;
  }[];
}

/** The answer as the JSON form prints it. */
export function buildBudgets(answer: BudgetsAnswer, now: Date): BudgetsDocument {
  return {
    generatedAt: now.toISOString(),
    currency: answer.me.organization.currency,
    budgets: answer.computeBudgets.map((b) => ({
      id: b.id,
      name: b.name,
      scope: b.scope,
      team: b.team ?? null,
      principal: b.principal?.name ?? null,
      workUnit: b.workUnit?.externalRef ?? null,
      period: b.period,
      periodStart: b.periodStart === null ? null : new Date(b.periodStart).toISOString(),
      limit: b.limit,
      spent: b.spent,
      reserved: b.reserved,
      remaining: b.remaining,
      percentUsed: b.limit > 0 ? Math.round(((b.spent + b.reserved) / b.limit) * 10_000) / 100 : null,
    })),
  };
}

/** `Organization`, `Team: research`, `Principal: alice`, `Work unit: ticket-4711`. */
export function scopeLabel(b: BudgetStatus): string {
  switch (b.scope) {
    case 'ORGANIZATION':
      return 'Organization';
    case 'TEAM':
      return `Team: ${b.team ?? '?'}`;
    case 'PRINCIPAL':
      return `Principal: ${b.principal ?? '?'}`;
    case 'WORK_UNIT':
      return `Work unit: ${b.workUnit ?? '?'}`;
    default:
      return String(b.scope);
  }
}

/** `DAY 2026-12-07`, `MONTH 2026-12-01` (the UTC date the current period started), `TOTAL`. */
export function periodLabel(b: BudgetStatus): string {
  return b.periodStart === null ? b.period : `${b.period} ${b.periodStart.slice(0, 10)}`;
}

/** The table a person reads: one line of context, then a row per budget. */
export function renderBudgets(doc: BudgetsDocument): string {
  if (doc.budgets.length === 0) return 'No compute budgets.';
  const header =
    `${plural(doc.budgets.length, 'compute budget')}, amounts in ${doc.currency}, ` +
    `DAY and MONTH periods in UTC; read ${localTime(new Date(doc.generatedAt))}`;
  const columns = [
    { header: 'NAME' },
    { header: 'SCOPE' },
    { header: 'PERIOD' },
    { header: 'LIMIT', align: 'right' as const },
    { header: 'SPENT', align: 'right' as const },
    { header: 'RESERVED', align: 'right' as const },
    { header: 'REMAINING', align: 'right' as const },
    { header: 'USED', align: 'right' as const },
    { header: 'BUDGET' },
  ];
  const rows = doc.budgets.map((b) => [
    b.name,
    scopeLabel(b),
    periodLabel(b),
    money(b.limit),
    money(b.spent),
    money(b.reserved),
    money(b.remaining),
    b.limit > 0 ? percent(((b.spent + b.reserved) / b.limit) * 100) : '-',
    b.id,
  ]);
  return `${header}\n\n${table(columns, rows)}`;
}

/** One snapshot. */
async function readBudgets(client: TokenpoolClient): Promise<BudgetsDocument> {
  return buildBudgets(await client.request<BudgetsAnswer>(BUDGETS_QUERY), new Date());
}

/** How often `--watch` reads again by default (budgets have no subscription). */
export const WATCH_INTERVAL_SECONDS = 5;

export const budgetsCommand: Command = {
  name: 'budgets',
  summary: 'compute budgets: limit, spent, reserved, remaining and percent used',
  help: `Usage: tokenpool budgets [--watch [--interval <s>]] [--json]

Shows each compute budget with its scope (the organization, a team, a principal or a work
unit), its period (DAY and MONTH with the UTC date the current one started), its limit, what
is spent and reserved (held by open reservations) in the current period, what remains, and
the percent used ((spent + reserved) / limit). Amounts are in the organization's currency.
A CLIENT key sees the budgets that apply to it; ADMIN and VIEWER keys see all of them.

Options:
  --watch            read again every ${WATCH_INTERVAL_SECONDS} s and redraw (Ctrl+C to stop); off a
                     terminal a snapshot is printed only when a figure changed
  --interval <s>     with --watch: seconds between reads (default ${WATCH_INTERVAL_SECONDS}, at least 1)
  --json             one JSON document (with --watch: one per line, per change)

${CONNECTION_HELP}`,
  options: { watch: { type: 'boolean' }, interval: { type: 'string' }, json: { type: 'boolean' } },
  maxPositionals: 0,
  async run(parsed, context) {
    const json = flag(parsed, 'json');
    const watching = flag(parsed, 'watch');
    const interval = secondsOption(parsed, 'interval', 'budgets');
    if (interval !== undefined && !watching) throw new UsageError('--interval needs --watch', 'budgets');
    if (interval !== undefined && interval < 1) throw new UsageError(`--interval must be at least 1 second, not "${interval}"`, 'budgets');
    const client = context.client();
    const print = (doc: BudgetsDocument) => {
      if (json) context.io.stdout.write(`${JSON.stringify(doc, null, watching ? undefined : 2)}\n`);
      else context.io.stdout.write(`${renderBudgets(doc)}\n`);
    };
    if (!watching) {
      print(await readBudgets(client));
      return ExitCode.OK;
    }
    return watch(client, context, json, (interval ?? WATCH_INTERVAL_SECONDS) * 1000, print);
  },
};

/** What a snapshot says, minus the time it was read: two with the same shape need not both go to a log. */
export function budgetsShape(doc: BudgetsDocument): string {
  return JSON.stringify({ currency: doc.currency, budgets: doc.budgets });
}

/**
 * `--watch`: read, draw, wait `intervalMs`, read again (a read never overlaps the next). As
 * in `status --watch`: on a terminal the screen is cleared and every read redrawn (its `read`
 * time moves); off a terminal, and with --json, a snapshot is printed only when its shape
 * changed, after a `--- <time>` line (the table) or as one line (JSON), so a log gets no
 * repeats. SIGINT and SIGTERM end it with 0; a failed read ends it with that error's code.
 */
async function watch(
  client: TokenpoolClient,
  context: CommandContext,
  json: boolean,
  intervalMs: number,
  print: (doc: BudgetsDocument) => void,
): Promise<number> {
  const tty = context.io.stdout.isTTY === true && !json;
  let lastShape: string | undefined;
  let failure: unknown;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));

  const poll = async (): Promise<void> => {
    try {
      const doc = await readBudgets(client);
      if (stopped) return;
      const shape = budgetsShape(doc);
      if (tty || shape !== lastShape) {
        lastShape = shape;
        if (tty) context.io.stdout.write('\x1b[2J\x1b[H');
        else if (!json) context.io.stdout.write(`--- ${doc.generatedAt}\n`);
        print(doc);
      }
      timer = setTimeout(() => void poll(), intervalMs);
    } catch (err) {
      failure = err;
      finish(-1);
    }
  };

  const onSignal = () => finish(ExitCode.OK);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  void poll();
  const code = await done;
  stopped = true;
  clearTimeout(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (code === -1) throw failure;
  return code;
}
