import { randomUUID } from 'node:crypto';
import { waitFor } from '../../../test/support/processes';
import type { BudgetsDocument, BudgetStatus } from '../src/commands/budgets';
import { startWorld, type CliWorld } from './support/cli';

/**
 * `tokenpool budgets` against a real API process with the built CLI as a child process: the
 * figures of the table and of --json after a settled and an open reservation, what a CLIENT
 * key sees, --watch, and the exit codes for keys and usage.
 */

const CREATE_BUDGET = 'mutation($i: CreateComputeBudgetInput!) { createComputeBudget(input: $i) { id } }';
const RESERVE = 'mutation($i: ReserveComputeInput!) { reserveCompute(input: $i) { id state amount } }';
const SETTLE = 'mutation($id: ID!, $u: ComputeUsageInput!) { settleCompute(reservationId: $id, usage: $u) { state settledCost } }';
const UPSERT_WORK_UNIT = 'mutation($i: WorkUnitInput!) { upsertWorkUnit(input: $i) { id } }';

describe('tokenpool budgets', () => {
  let world: CliWorld;
  let clientKey: string;
  let clientName: string;
  let clientTeam: string;
  let clientWorkUnit: { id: string; ref: string };
  let clientId: string;
  let otherId: string;
  let adminWorkUnit: string;
  /** Budget ids by a short label. */
  const ids: Record<string, string> = {};
  const names: Record<string, string> = {};

  const gql = <T>(key: string, query: string, variables?: Record<string, unknown>) => world.gql<T>(query, variables, key);
  const cli = (args: string[], env: Record<string, string> = {}) => world.run(args, env);

  async function principalWithKey(name: string, team: string): Promise<{ id: string; key: string }> {
    const { createPrincipal } = await gql<{ createPrincipal: { id: string } }>(
      world.adminKey,
      'mutation($i: CreatePrincipalInput!) { createPrincipal(input: $i) { id } }',
      { i: { name, kind: 'AGENT', orgUnitKind: 'GOING_CONCERN', team } },
    );
    const { createApiKey } = await gql<{ createApiKey: { secret: string } }>(
      world.adminKey,
      'mutation($p: ID!) { createApiKey(principalId: $p, role: CLIENT) { secret } }',
      { p: createPrincipal.id },
    );
    return { id: createPrincipal.id, key: createApiKey.secret };
  }

  async function budget(label: string, input: Record<string, unknown>): Promise<void> {
    names[label] = `${label} ${randomUUID().slice(0, 6)}`;
    const { createComputeBudget } = await gql<{ createComputeBudget: { id: string } }>(world.adminKey, CREATE_BUDGET, {
      i: { name: names[label], ...input },
    });
    ids[label] = createComputeBudget.id;
  }

  function reserve(amount: number) {
    return gql<{ reserveCompute: { id: string; state: string; amount: number } }>(clientKey, RESERVE, {
      i: { provider: 'openai', model: 'cli-budgets', maxInputTokens: 100, maxOutputTokens: 100, amount, workUnitId: clientWorkUnit.id },
    });
  }

  /** The cells of the table row naming this budget (cells are 2 or more spaces apart; names and labels have single spaces). */
  function row(stdout: string, label: string): string[] | undefined {
    return stdout
      .split('\n')
      .find((line) => line.includes(ids[label]))
      ?.trim()
      .split(/\s{2,}/);
  }

  beforeAll(async () => {
    world = await startWorld('cli-budgets');
    clientTeam = `research-${randomUUID().slice(0, 8)}`;
    clientName = `cli-agent-${randomUUID().slice(0, 8)}`;
    const client = await principalWithKey(clientName, clientTeam);
    clientKey = client.key;
    clientId = client.id;
    otherId = (await principalWithKey(`cli-other-${randomUUID().slice(0, 8)}`, `sales-${randomUUID().slice(0, 8)}`)).id;
    // A work unit the CLIENT's principal creates (its budget applies to it) and one the ADMIN's does (it does not).
    clientWorkUnit = { id: '', ref: `ticket-${randomUUID().slice(0, 8)}` };
    clientWorkUnit.id = (
      await gql<{ upsertWorkUnit: { id: string } }>(clientKey, UPSERT_WORK_UNIT, { i: { externalRef: clientWorkUnit.ref } })
    ).upsertWorkUnit.id;
    adminWorkUnit = (await gql<{ upsertWorkUnit: { id: string } }>(world.adminKey, UPSERT_WORK_UNIT, { i: { externalRef: `admin-${randomUUID()}` } }))
      .upsertWorkUnit.id;
  });

  afterEach(() => world.killAll());

  afterAll(async () => {
    await world?.close();
  });

  it('prints one clear line, and an empty list in JSON, before any budget exists', async () => {
    const empty = await cli(['budgets']);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe('No compute budgets.\n');
    const emptyJson = await cli(['budgets', '--json']);
    expect(emptyJson.code).toBe(0);
    expect(JSON.parse(emptyJson.stdout)).toEqual({ generatedAt: expect.any(String), currency: 'USD', budgets: [] });
  });

  describe('with budgets, a settled and an open reservation', () => {
    beforeAll(async () => {
      await budget('org', { scope: 'ORGANIZATION', period: 'MONTH', limit: 1000 });
      await budget('team', { scope: 'TEAM', team: clientTeam, period: 'DAY', limit: 50 });
      await budget('own', { scope: 'PRINCIPAL', principalId: clientId, period: 'TOTAL', limit: 10 });
      await budget('unit', { scope: 'WORK_UNIT', workUnitId: clientWorkUnit.id, period: 'TOTAL', limit: 4 });
      await budget('other-team', { scope: 'TEAM', team: `other-${randomUUID().slice(0, 8)}`, period: 'DAY', limit: 7 });
      await budget('other-principal', { scope: 'PRINCIPAL', principalId: otherId, period: 'TOTAL', limit: 5 });
      await budget('other-unit', { scope: 'WORK_UNIT', workUnitId: adminWorkUnit, period: 'TOTAL', limit: 3 });

      // Settled at 1.25 (spent), then 0.0465 held by an open reservation (reserved), on the four budgets of the CLIENT.
      // Set-up, checked where it happens so that a failure says which step (the figures are the tests' business).
      const first = (await reserve(2)).reserveCompute;
      if (first.state !== 'OPEN') throw new Error(`first reservation: ${JSON.stringify(first)}`);
      const { settleCompute } = await gql<{ settleCompute: { state: string; settledCost: number } }>(clientKey, SETTLE, {
        id: first.id,
        u: {
          eventId: randomUUID(),
          provider: 'openai',
          model: 'cli-budgets',
          inputTokens: 90,
          outputTokens: 80,
          cost: 1.25,
          occurredAt: new Date().toISOString(),
        },
      });
      if (settleCompute.state !== 'SETTLED' || settleCompute.settledCost !== 1.25) throw new Error(`settlement: ${JSON.stringify(settleCompute)}`);
      const open = (await reserve(0.0465)).reserveCompute;
      if (open.state !== 'OPEN' || open.amount !== 0.0465) throw new Error(`open reservation: ${JSON.stringify(open)}`);
    });

    it('--json prints every budget of the organization with its figures, oldest first', async () => {
      const json = await cli(['budgets', '--json']);
      expect(json.code).toBe(0);
      const doc = JSON.parse(json.stdout) as BudgetsDocument;
      expect(Math.abs(Date.parse(doc.generatedAt) - Date.now())).toBeLessThan(60_000);
      expect(doc.currency).toBe('USD');
      expect(doc.budgets.map((b) => b.id)).toEqual(['org', 'team', 'own', 'unit', 'other-team', 'other-principal', 'other-unit'].map((l) => ids[l]));
      const byId = new Map(doc.budgets.map((b) => [b.id, b]));
      const now = new Date();
      const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString();
      const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())).toISOString();
      expect(byId.get(ids.org)).toEqual<BudgetStatus>({
        id: ids.org,
        name: names.org,
        scope: 'ORGANIZATION',
        team: null,
        principal: null,
        workUnit: null,
        period: 'MONTH',
        periodStart: monthStart,
        limit: 1000,
        spent: 1.25,
        reserved: 0.0465,
        remaining: 998.7035,
        percentUsed: 0.13,
      });
      expect(byId.get(ids.team)).toMatchObject({
        scope: 'TEAM',
        team: clientTeam,
        period: 'DAY',
        periodStart: dayStart,
        limit: 50,
        spent: 1.25,
        reserved: 0.0465,
      });
      expect(byId.get(ids.team)?.remaining).toBeCloseTo(48.7035, 9);
      expect(byId.get(ids.team)?.percentUsed).toBe(2.59);
      expect(byId.get(ids.own)).toMatchObject({ scope: 'PRINCIPAL', principal: clientName, team: null, period: 'TOTAL', periodStart: null });
      expect(byId.get(ids.own)?.percentUsed).toBeCloseTo(12.965, 1);
      expect(byId.get(ids.unit)).toMatchObject({ scope: 'WORK_UNIT', workUnit: clientWorkUnit.ref, limit: 4, percentUsed: 32.41 });
      expect(byId.get(ids.unit)?.remaining).toBeCloseTo(2.7035, 9);
      expect(byId.get(ids['other-unit'])).toMatchObject({ scope: 'WORK_UNIT', limit: 3, spent: 0, reserved: 0, remaining: 3, percentUsed: 0 });
    });

    it('shows scope, period, money to 4 decimals and the percent used in the table', async () => {
      const table = await cli(['budgets']);
      expect(table.code).toBe(0);
      const lines = table.stdout.split('\n');
      expect(lines[0]).toMatch(/^7 compute budgets, amounts in USD, DAY and MONTH periods in UTC; read \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      expect(lines[2].trim().split(/\s+/)).toEqual(['NAME', 'SCOPE', 'PERIOD', 'LIMIT', 'SPENT', 'RESERVED', 'REMAINING', 'USED', 'BUDGET']);
      const now = new Date();
      const month = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
      const day = `${month}-${String(now.getUTCDate()).padStart(2, '0')}`;
      expect(row(table.stdout, 'org')).toEqual([names.org, 'Organization', `MONTH ${month}-01`, '1,000.00', '1.25', '0.0465', '998.7035', '0.1%', ids.org]);
      expect(row(table.stdout, 'team')).toEqual([names.team, `Team: ${clientTeam}`, `DAY ${day}`, '50.00', '1.25', '0.0465', '48.7035', '2.6%', ids.team]);
      expect(row(table.stdout, 'own')).toEqual([names.own, `Principal: ${clientName}`, 'TOTAL', '10.00', '1.25', '0.0465', '8.7035', '13.0%', ids.own]);
      expect(row(table.stdout, 'unit')).toEqual([
        names.unit,
        `Work unit: ${clientWorkUnit.ref}`,
        'TOTAL',
        '4.00',
        '1.25',
        '0.0465',
        '2.7035',
        '32.4%',
        ids.unit,
      ]);
      expect(row(table.stdout, 'other-unit')).toEqual([
        names['other-unit'],
        expect.stringMatching(/^Work unit: admin-/),
        'TOTAL',
        '3.00',
        '0.00',
        '0.00',
        '3.00',
        '0.0%',
        ids['other-unit'],
      ]);
      // Right-aligned amounts: every row ends its LIMIT column where the header does.
      const limitEnd = lines[2].indexOf('LIMIT') + 'LIMIT'.length;
      for (const label of ['org', 'team', 'other-unit']) {
        const line = lines.find((l) => l.includes(ids[label])) ?? '';
        expect(line.slice(0, limitEnd)).toMatch(/\d\.\d\d$/);
      }
    });

    it('shows a CLIENT key only the budgets that apply to it', async () => {
      const json = await cli(['budgets', '--json'], { TOKENPOOL_API_KEY: clientKey });
      expect(json.code).toBe(0);
      const doc = JSON.parse(json.stdout) as BudgetsDocument;
      expect(doc.budgets.map((b) => b.id)).toEqual([ids.org, ids.team, ids.own, ids.unit]);
      const table = await cli(['budgets'], { TOKENPOOL_API_KEY: clientKey });
      expect(table.code).toBe(0);
      expect(table.stdout.split('\n')[0]).toMatch(/^4 compute budgets, /);
      for (const label of ['org', 'team', 'own', 'unit']) expect(table.stdout).toContain(ids[label]);
      for (const label of ['other-team', 'other-principal', 'other-unit']) expect(table.stdout).not.toContain(names[label]);
    });

    it('--watch --json prints a line per change and exits 0 on SIGINT', async () => {
      const watch = world.start(['budgets', '--watch', '--json', '--interval', '1'], { TOKENPOOL_API_KEY: clientKey });
      const snapshots = () =>
        watch.stdout
          .split('\n')
          .slice(0, -1) // complete lines only: the last may be half written
          .map((line) => JSON.parse(line) as BudgetsDocument);
      await waitFor(async () => snapshots().length >= 1, 'the first snapshot', 30_000);
      const reservedBefore = snapshots()[0].budgets.find((b) => b.id === ids.own)?.reserved ?? NaN;
      // Unchanged figures are not printed again.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(snapshots()).toHaveLength(1);
      const held = (await reserve(0.5)).reserveCompute;
      await waitFor(async () => snapshots().length >= 2, 'a snapshot with the new reservation', 30_000);
      const after = snapshots()[1].budgets.find((b) => b.id === ids.own);
      expect(after?.reserved).toBeCloseTo(reservedBefore + 0.5, 9);
      await gql(clientKey, 'mutation($id: ID!) { cancelReservation(reservationId: $id) { state } }', { id: held.id });
      watch.proc.kill('SIGINT');
      expect(await watch.exited).toBe(0);
      expect(watch.stderr).toBe('');
    });

    it('--watch off a terminal prints a first table after a time line, and exits 0 on SIGTERM', async () => {
      const watch = world.start(['budgets', '--watch', '--interval', '1']);
      await waitFor(async () => watch.stdout.includes(ids['other-unit']), 'the first table', 30_000);
      expect(watch.stdout).toMatch(/^--- \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n7 compute budgets, /);
      expect(watch.stdout).not.toContain('\x1b[2J');
      watch.proc.kill('SIGTERM');
      expect(await watch.exited).toBe(0);
    });

    it('exits 77 for a bad key without printing it, and 1 for usage errors', async () => {
      const badKey = `tp_${'0'.repeat(64)}`;
      const bad = await cli(['budgets'], { TOKENPOOL_API_KEY: badKey });
      expect(bad.code).toBe(77);
      expect(bad.stderr).toContain('UNAUTHENTICATED');
      expect(bad.stdout + bad.stderr).not.toContain(badKey);
      const badWatch = await cli(['budgets', '--watch', '--json'], { TOKENPOOL_API_KEY: badKey });
      expect(badWatch.code).toBe(77);

      const unknownOption = await cli(['budgets', '--bogus']);
      expect(unknownOption.code).toBe(1);
      expect(unknownOption.stderr).toContain('unknown option --bogus');
      const noWatch = await cli(['budgets', '--interval', '2']);
      expect(noWatch.code).toBe(1);
      expect(noWatch.stderr).toContain('--interval needs --watch');
      const tooFast = await cli(['budgets', '--watch', '--interval', '0.2']);
      expect(tooFast.code).toBe(1);
      expect(tooFast.stderr).toContain('--interval must be at least 1 second');
      const extra = await cli(['budgets', 'extra']);
      expect(extra.code).toBe(1);
      expect(extra.stderr).toContain('unexpected argument "extra"');
    });
  });
});
