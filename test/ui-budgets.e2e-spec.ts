import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openDashboard, seriousViolations } from './support/browser';
import { type ApiProcess, startApi } from './support/processes';

/**
 * The dashboard's Budgets page in Chromium against a spawned API: figures as the API reads
 * them (and refreshed while agents reserve), create / edit / delete by an ADMIN, read-only
 * for a VIEWER, axe-core and no console errors. UPDATE_SCREENSHOTS=1 writes docs/screenshots/budgets.png.
 */
const ROOT = join(__dirname, '..');
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';

/** The page's globals that the callbacks run in it use (the tests' tsconfig has no DOM types). */
interface PageGlobals {
  document: { querySelector(selector: string): { textContent: string | null } | null };
}

interface Budget {
  id: string;
  name: string;
  scope: string;
  limit: number;
  spent: number;
  reserved: number;
  remaining: number;
  period: string;
  periodStart: string | null;
}

const BUDGET_FIELDS = 'id name scope limit spent reserved remaining period periodStart';
const CREATE = `mutation($input: CreateComputeBudgetInput!) { createComputeBudget(input: $input) { ${BUDGET_FIELDS} } }`;
const BUDGETS = `{ computeBudgets { ${BUDGET_FIELDS} } }`;
const RESERVE = 'mutation($input: ReserveComputeInput!) { reserveCompute(input: $input) { id state amount } }';
const SETTLE = 'mutation($id: ID!, $usage: ComputeUsageInput!) { settleCompute(reservationId: $id, usage: $usage) { id state settledCost } }';

function runCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), ...args], { env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    proc.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`cli ${args.join(' ')} exited ${code}: ${err}\n${out}`))));
  });
}

describe('the Budgets page in Chromium', () => {
  let api: ApiProcess;
  let browser: Browser;
  let adminKey: string;
  let viewerKey: string;
  let clientKey: string;
  let money: Intl.NumberFormat;
  const made: Record<'org' | 'team' | 'principal' | 'unit', Budget> = {} as never;
  const team = `ui-team-${randomUUID().slice(0, 8)}`;
  const agentName = `ui-agent-${randomUUID().slice(0, 8)}`;
  const unitRef = `UI-TICKET-${randomUUID().slice(0, 8)}`;
  let admin: { page: Page; errors: string[] };
  let unitId: string;

  async function gql<T>(key: string, query: string, variables?: Record<string, unknown>): Promise<T> {
    const res = await api.gql(key, query, variables);
    if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
    return res.body.data as T;
  }
  const budgetsById = async () => new Map((await gql<{ computeBudgets: Budget[] }>(adminKey, BUDGETS)).computeBudgets.map((b) => [b.id, b]));
  const cell = (page: Page, id: string, col: string) => page.locator(`tr[data-row="${id}"] td[data-col="${col}"]`);
  const reserve = (amount: number) =>
    gql<{ reserveCompute: { id: string; state: string } }>(clientKey, RESERVE, {
      input: {
        provider: 'openai',
        model: 'ui-budget-model',
        maxInputTokens: 100,
        maxOutputTokens: 100,
        amount,
        workUnitId: unitId,
        reservationSeconds: 600,
      },
    }).then((d) => d.reserveCompute);

  beforeAll(async () => {
    browser = await launchChromium();
    api = await startApi();
    const lines = (await runCli(['org', 'create', `ui-budgets-${randomUUID()}`])).trim().split('\n');
    adminKey = (JSON.parse(lines.at(-1)!) as { adminKey: string }).adminKey;
    const keyFor = async (name: string, role: string, extra: Record<string, unknown> = {}) => {
      const { createPrincipal } = await gql<{ createPrincipal: { id: string } }>(
        adminKey,
        'mutation($input: CreatePrincipalInput!) { createPrincipal(input: $input) { id } }',
        { input: { name, kind: 'AGENT', orgUnitKind: 'CHANGE', ...extra } },
      );
      const { createApiKey } = await gql<{ createApiKey: { secret: string } }>(
        adminKey,
        'mutation($p: ID!, $role: Role!) { createApiKey(principalId: $p, role: $role) { secret } }',
        { p: createPrincipal.id, role },
      );
      return { id: createPrincipal.id, key: createApiKey.secret };
    };
    const agent = await keyFor(agentName, 'CLIENT', { team });
    clientKey = agent.key;
    viewerKey = (await keyFor('ui-viewer', 'VIEWER')).key;
    const me = await gql<{ currentKey: { principal: { organization: { currency: string } } } }>(
      adminKey,
      '{ currentKey { principal { organization { currency } } } }',
    );
    money = new Intl.NumberFormat('en-US', { style: 'currency', currency: me.currentKey.principal.organization.currency, maximumFractionDigits: 4 });
    const { upsertWorkUnit } = await gql<{ upsertWorkUnit: { id: string } }>(
      clientKey,
      'mutation($input: WorkUnitInput!) { upsertWorkUnit(input: $input) { id } }',
      {
        input: { externalRef: unitRef },
      },
    );
    unitId = upsertWorkUnit.id;
    const create = (input: Record<string, unknown>) => gql<{ createComputeBudget: Budget }>(adminKey, CREATE, { input }).then((d) => d.createComputeBudget);
    made.org = await create({ name: 'Whole organization', scope: 'ORGANIZATION', period: 'MONTH', limit: 250 });
    made.team = await create({ name: 'Team budget', scope: 'TEAM', team, period: 'DAY', limit: 20 });
    made.principal = await create({ name: 'Agent budget', scope: 'PRINCIPAL', principalId: agent.id, period: 'TOTAL', limit: 12.5 });
    made.unit = await create({ name: 'Ticket budget', scope: 'WORK_UNIT', workUnitId: unitId, period: 'TOTAL', limit: 8 });
    // One call settled (spent 1.2345), one still holding (reserved 2.5): every budget above applies to both.
    const settled = await reserve(2);
    const done = await gql<{ settleCompute: { state: string } }>(clientKey, SETTLE, {
      id: settled.id,
      usage: {
        eventId: randomUUID(),
        provider: 'openai',
        model: 'ui-budget-model',
        inputTokens: 100,
        outputTokens: 50,
        cost: 1.2345,
        occurredAt: new Date().toISOString(),
        workUnitId: unitId,
      },
    });
    const held = await reserve(2.5);
    // The tests below check the figures these make; a setup that went otherwise says so here.
    if (done.settleCompute.state !== 'SETTLED' || held.state !== 'OPEN') throw new Error(`setup: settled ${done.settleCompute.state}, held ${held.state}`);
    admin = await openDashboard(browser, api.url, adminKey);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await api?.stop();
  });

  it('lists every budget with its scope, period, and the limit, spent, reserved and remaining the API reads, with a bar that says them in words', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Budgets' }).click();
    await page.getByRole('heading', { name: 'Budgets', level: 1 }).waitFor();
    await page.locator(`tr[data-row="${made.unit.id}"]`).waitFor();
    const api = await budgetsById();
    for (const made1 of Object.values(made)) {
      const b = api.get(made1.id)!;
      expect(b.spent).toBeCloseTo(1.2345, 9);
      expect(b.reserved).toBeCloseTo(2.5, 9);
      for (const col of ['limit', 'spent', 'reserved', 'remaining'] as const) {
        await expect(cell(page, b.id, col).innerText()).resolves.toBe(money.format(b[col]));
      }
      await expect(cell(page, b.id, 'name').innerText()).resolves.toBe(b.name);
      const bar = page.locator(`tr[data-row="${b.id}"] [role="img"]`);
      await expect(bar.getAttribute('aria-label')).resolves.toBe(
        `${b.name}: ${money.format(b.spent)} spent and ${money.format(b.reserved)} reserved of ${money.format(b.limit)}, ${new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 }).format(((b.spent + b.reserved) / b.limit) * 100)}% used`,
      );
    }
    await expect(cell(page, made.org.id, 'scope').innerText()).resolves.toBe('Organization');
    await expect(cell(page, made.team.id, 'scope').innerText()).resolves.toBe(`Team: ${team}`);
    await expect(cell(page, made.principal.id, 'scope').innerText()).resolves.toBe(`Principal: ${agentName}`);
    await expect(cell(page, made.unit.id, 'scope').innerText()).resolves.toBe(`Work unit: ${unitRef}`);
    await expect(cell(page, made.team.id, 'period').innerText()).resolves.toBe(`Day, from ${api.get(made.team.id)!.periodStart!.slice(0, 10)} UTC`);
    await expect(cell(page, made.org.id, 'period').innerText()).resolves.toBe(`Month, from ${api.get(made.org.id)!.periodStart!.slice(0, 10)} UTC`);
    await expect(cell(page, made.unit.id, 'period').innerText()).resolves.toBe('Total (never resets)');
    // 1.2345 + 2.5 of 8: the ticket's bar reads 46.7% used.
    await expect(page.locator(`tr[data-row="${made.unit.id}"] .budget-used`).innerText()).resolves.toBe('46.7% used');
    if (SCREENSHOTS) await page.screenshot({ path: join(ROOT, 'docs', 'screenshots', 'budgets.png') });
  });

  it('refreshes the figures while the page stays open: a new reservation shows within 8 s, without a reload', async () => {
    const { page } = admin;
    await reserve(1.5);
    const want = money.format(4);
    const started = Date.now();
    await page.waitForFunction(
      ([sel, text]) => (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent === text,
      [`tr[data-row="${made.unit.id}"] td[data-col="reserved"]`, want] as const,
      { timeout: 8000 },
    );
    console.log(`ui-budgets: the reserved figure moved ${Date.now() - started} ms after the reservation answered`);
    expect((await budgetsById()).get(made.unit.id)!.reserved).toBeCloseTo(4, 9);
  });

  it('creates a budget through the form (TEAM scope), edits its name and limit, and deletes it after a confirmation', async () => {
    const { page } = admin;
    const name = `ui-made-${randomUUID().slice(0, 8)}`;
    const form = page.getByRole('form', { name: 'Create a budget' });
    await form.getByLabel('Name', { exact: true }).fill(name);
    await form.getByLabel('Scope', { exact: true }).selectOption('TEAM');
    await form.getByLabel('Team', { exact: true }).fill(team);
    await form.getByLabel('Period', { exact: true }).selectOption('DAY');
    await form.getByLabel('Limit', { exact: true }).fill('42.5');
    await form.getByRole('button', { name: 'Create budget' }).click();
    await page.getByText(`Created the budget ${name}.`).waitFor();
    const row = page.locator('tbody tr', { hasText: name });
    await row.waitFor();
    const created = [...(await budgetsById()).values()].find((b) => b.name === name)!;
    expect(created).toMatchObject({ scope: 'TEAM', period: 'DAY', limit: 42.5 });
    await expect(cell(page, created.id, 'limit').innerText()).resolves.toBe(money.format(42.5));
    await expect(cell(page, created.id, 'scope').innerText()).resolves.toBe(`Team: ${team}`);

    // A refusal reads as the contract words it: a second budget with the same name.
    await form.getByLabel('Name', { exact: true }).fill(name);
    await form.getByLabel('Limit', { exact: true }).fill('1');
    await form.getByRole('button', { name: 'Create budget' }).click();
    const refused = (await api.gql(adminKey, CREATE, { input: { name, scope: 'TEAM', team, period: 'DAY', limit: 1 } })).body.errors![0] as {
      message: string;
      extensions: { code: string };
    };
    await expect(form.getByRole('alert').innerText()).resolves.toBe(`${refused.extensions.code}: ${refused.message}`);

    await page.getByRole('button', { name: `Edit budget ${name}` }).click();
    const editor = page.getByRole('form', { name: `Edit budget ${name}` });
    await editor.getByLabel('Name', { exact: true }).fill(`${name}-renamed`);
    await editor.getByLabel('Limit', { exact: true }).fill('60');
    await editor.getByRole('button', { name: 'Save budget' }).click();
    await page.getByText(`Saved the budget ${name}.`).waitFor();
    await page.waitForFunction(([sel, text]) => (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent === text, [
      `tr[data-row="${created.id}"] td[data-col="limit"]`,
      money.format(60),
    ] as const);
    expect((await budgetsById()).get(created.id)).toMatchObject({ name: `${name}-renamed`, limit: 60 });

    let asked = '';
    page.once('dialog', (d) => ((asked = d.message()), void d.accept()));
    await page.getByRole('button', { name: `Delete budget ${name}-renamed` }).click();
    await page.getByText(`Deleted the budget ${name}-renamed.`).waitFor();
    expect(asked).toContain(`Delete the budget ${name}-renamed?`);
    await page.locator(`tr[data-row="${created.id}"]`).waitFor({ state: 'detached' });
    expect((await budgetsById()).has(created.id)).toBe(false);
  });

  it('shows a VIEWER the same figures without a form or an edit or delete control', async () => {
    const viewer = await openDashboard(browser, api.url, viewerKey);
    const { page } = viewer;
    try {
      await page.getByRole('link', { name: 'Budgets' }).click();
      await page.locator(`tr[data-row="${made.org.id}"]`).waitFor();
      const b = (await budgetsById()).get(made.org.id)!;
      await expect(cell(page, b.id, 'limit').innerText()).resolves.toBe(money.format(b.limit));
      await expect(cell(page, b.id, 'spent').innerText()).resolves.toBe(money.format(b.spent));
      await expect(page.locator('tbody tr').count()).resolves.toBe(4);
      await expect(page.getByText('Read-only (VIEWER key).').count()).resolves.toBe(1);
      await expect(page.locator('form').count()).resolves.toBe(0);
      await expect(page.locator('button:text-matches("^(Edit|Delete|Create budget|Save budget)$")').count()).resolves.toBe(0);
      await expect(page.locator('th', { hasText: 'Actions' }).count()).resolves.toBe(0);
      await expect(page.locator('[role="alert"]').count()).resolves.toBe(0);
      expect(viewer.errors).toEqual([]);
    } finally {
      await viewer.context.close();
    }
  });

  it('finds no serious or critical accessibility violation on the page, for an ADMIN and a VIEWER (axe-core)', async () => {
    const problems: string[] = [];
    for (const [who, key] of [
      ['ADMIN', adminKey],
      ['VIEWER', viewerKey],
    ] as const) {
      const { context, page } = await openDashboard(browser, api.url, key, { bypassCSP: true });
      try {
        await page.getByRole('link', { name: 'Budgets' }).click();
        await page.locator(`tr[data-row="${made.org.id}"]`).waitFor();
        if (who === 'ADMIN') await page.getByRole('form', { name: 'Create a budget' }).getByLabel('Scope').selectOption('WORK_UNIT');
        problems.push(...(await seriousViolations(page)).map((p) => `${who}: ${p}`));
      } finally {
        await context.close();
      }
    }
    expect(problems).toEqual([]);
  });

  it('had no console error on the ADMIN page', () => {
    expect(admin.errors).toEqual([]);
  });
});
