import { flag, integerOption, requiredOption, stringsOption, UsageError } from '../args';
import { CONNECTION_HELP, type Command } from '../command';
import { ExitCode } from '../exit-codes';
import { resolvePool } from '../resolve';

/**
 * The admin helpers the README's tour needs to go from an empty organization to a
 * `tokenpool run`, without writing GraphQL: create a pool, add an app to it. Everything else
 * of the catalog stays in the API (docs/api.md), where every field is documented.
 */

export const poolsCreateCommand: Command = {
  name: 'pools create',
  summary: 'create a pool of credits (ADMIN)',
  help: `Usage: tokenpool pools create <name> --cap <credits> [--max-borrow-hours <n>] [--json]

Creates a pool with the given cap (the credits its active leases may hold at most).

Options:
  --cap <n>                 the cap in credits (required)
  --max-borrow-hours <n>    the longest \`tokenpool borrow\` allowed, 0-720 (default 0: off)
  --json                    print the pool as JSON

${CONNECTION_HELP}`,
  options: { cap: { type: 'string' }, 'max-borrow-hours': { type: 'string' }, json: { type: 'boolean' } },
  maxPositionals: 1,
  async run(parsed, context) {
    const name = parsed.positionals[0];
    if (!name) throw new UsageError('missing the pool name', 'pools create');
    const cap = integerOption(parsed, 'cap', 'pools create', 1);
    if (cap === undefined) throw new UsageError('missing --cap', 'pools create');
    const maxBorrowHours = integerOption(parsed, 'max-borrow-hours', 'pools create');
    const pool = await context.client().createPool({ name, cap, maxBorrowHours });
    if (flag(parsed, 'json')) context.io.stdout.write(`${JSON.stringify(pool, null, 2)}\n`);
    else {
      const borrowing = pool.maxBorrowHours > 0 ? `, borrowing up to ${pool.maxBorrowHours} h` : '';
      context.io.stdout.write(`Created pool ${pool.name} (id ${pool.id}): cap ${pool.cap}${borrowing}\n`);
    }
    return ExitCode.OK;
  },
};

export const appsCreateCommand: Command = {
  name: 'apps create',
  summary: 'add an app to a pool, with its cost in credits (ADMIN)',
  help: `Usage: tokenpool apps create --pool <id or name> --key <key> --name <name> --cost <credits>
                          [--external-name <feature>]... [--json]

Adds an app to a pool. Clients check it out by its key; each check-out holds its cost.

Options:
  --pool <id|name>   the pool (required)
  --key <key>        the key clients check it out by, unique in the organization (required)
  --name <name>      its display name (required)
  --cost <n>         credits per check-out (required)
  --external-name <feature>
                     a name another license server uses for it (a FlexNet or RLM feature
                     name, matched exactly by \`tokenpool import\`); repeat for several.
                     Without one, imports match the feature named like the key (any case)
  --json             print the app as JSON

${CONNECTION_HELP}`,
  options: {
    pool: { type: 'string' },
    key: { type: 'string' },
    name: { type: 'string' },
    cost: { type: 'string' },
    'external-name': { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
  maxPositionals: 0,
  async run(parsed, context) {
    const command = 'apps create';
    const poolRef = requiredOption(parsed, 'pool', command);
    const key = requiredOption(parsed, 'key', command);
    const name = requiredOption(parsed, 'name', command);
    const cost = integerOption(parsed, 'cost', command, 1);
    if (cost === undefined) throw new UsageError('missing --cost', command);
    const externalNames = stringsOption(parsed, 'external-name');
    if (externalNames.some((n) => n === '')) throw new UsageError('--external-name needs a name', command);
    const client = context.client();
    const pool = await resolvePool(client, poolRef, command);
    const app = await client.createApp({ poolId: pool.id, key, name, cost, ...(externalNames.length ? { externalNames } : {}) });
    if (flag(parsed, 'json')) context.io.stdout.write(`${JSON.stringify({ ...app, pool: { id: pool.id, name: pool.name } }, null, 2)}\n`);
    else {
      const names = app.externalNames.length ? `; external names ${app.externalNames.join(', ')}` : '';
      context.io.stdout.write(`Created app ${app.key} (${app.name}) in pool ${pool.name}: cost ${app.cost}${names} (id ${app.id})\n`);
    }
    return ExitCode.OK;
  },
};
