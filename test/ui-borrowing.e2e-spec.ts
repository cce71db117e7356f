import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openDashboard, seriousViolations } from './support/browser';
import { type ApiProcess, startApi } from './support/processes';

/**
 * Offline borrowing on the dashboard's pool page, in Chromium against a spawned API: a
 * borrowed lease reads "Borrowed until <borrowedUntil>" (a checked-out one does not), the
 * pool's maxBorrowHours reads "up to N h" or "off" and an ADMIN changes it (0..720, checked
 * in the page), and revoking a borrowed lease asks first and then says its credits stay held
 * until its borrowedUntil, also after a reload.
 */
const ROOT = join(__dirname, '..');

/** The page's globals that the callbacks run in it use (the tests' tsconfig has no DOM types). */
interface PageGlobals {
  document: { querySelector(selector: string): { textContent: string | null } | null };
}

interface Lease {
  id: string;
  state: string;
  credits: number;
  borrowedUntil: string | null;
  endedAt: string | null;
}
const LEASE_FIELDS = 'id state credits borrowedUntil endedAt';
const BORROW = `mutation($input: BorrowInput!) { borrow(input: $input) { ${LEASE_FIELDS} } }`;
const POOL = 'query($id: ID!) { pool(id: $id) { maxBorrowHours inUse } }';

/** As the dashboard writes a time (format.ts fmtTime). */
const fmtTime = (iso: string) => new Date(iso).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';

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

describe('borrowing on the dashboard, in Chromium', () => {
  let api: ApiProcess;
  let browser: Browser;
  let adminKey: string;
  let viewerKey: string;
  let clientKey: string;
  let poolId: string;
  const poolName = `ui-borrow-${randomUUID().slice(0, 8)}`;
  const holder = `ui-borrower-${randomUUID().slice(0, 8)}`;
  let kept: Lease; // borrowed, stays ACTIVE
  let revoked: Lease; // borrowed, revoked from the page
  let online: Lease; // checked out, kept by heartbeats
  let admin: { page: Page; errors: string[] };

  async function gql<T>(key: string, query: string, variables?: Record<string, unknown>): Promise<T> {
    const res = await api.gql(key, query, variables);
    if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
    return res.body.data as T;
  }
  const poolNow = () => gql<{ pool: { maxBorrowHours: number; inUse: number } }>(adminKey, POOL, { id: poolId }).then((d) => d.pool);
  const leaseNow = (id: string) => gql<{ lease: Lease }>(adminKey, `query($id: ID!) { lease(id: $id) { ${LEASE_FIELDS} } }`, { id }).then((d) => d.lease);
  const cell = (page: Page, id: string, col: string) => page.locator(`tr[data-row="${id}"] td[data-col="${col}"]`);
  const borrow = (hours: number, host: string) => api.gql(clientKey, BORROW, { input: { poolId, app: 'cad', hours, host } });
  const waitText = (page: Page, selector: string, text: string) =>
    page.waitForFunction(([sel, want]) => (globalThis as unknown as PageGlobals).document.querySelector(sel)?.textContent === want, [selector, text] as const, {
      timeout: 8000,
    });
  const openPool = async (page: Page) => {
    await page.getByRole('link', { name: poolName }).click();
    await page.getByRole('heading', { name: poolName, level: 1 }).waitFor();
    await page.locator(`tr[data-row="${kept.id}"]`).waitFor();
  };

  beforeAll(async () => {
    browser = await launchChromium();
    api = await startApi();
    const lines = (await runCli(['org', 'create', `ui-borrowing-${randomUUID()}`])).trim().split('\n');
    adminKey = (JSON.parse(lines.at(-1)!) as { adminKey: string }).adminKey;
    const keyFor = async (name: string, role: string) => {
      const { createPrincipal } = await gql<{ createPrincipal: { id: string } }>(
        adminKey,
        'mutation($input: CreatePrincipalInput!) { createPrincipal(input: $input) { id } }',
        { input: { name, kind: 'USER', orgUnitKind: 'GOING_CONCERN', team: 'design' } },
      );
      const { createApiKey } = await gql<{ createApiKey: { secret: string } }>(
        adminKey,
        'mutation($p: ID!, $role: Role!) { createApiKey(principalId: $p, role: $role) { secret } }',
        { p: createPrincipal.id, role },
      );
      return createApiKey.secret;
    };
    clientKey = await keyFor(holder, 'CLIENT');
    viewerKey = await keyFor('ui-borrow-viewer', 'VIEWER');
    const { createPool } = await gql<{ createPool: { id: string; maxBorrowHours: number } }>(
      adminKey,
      'mutation($input: CreatePoolInput!) { createPool(input: $input) { id maxBorrowHours } }',
      { input: { name: poolName, cap: 20, maxBorrowHours: 48 } },
    );
    poolId = createPool.id;
    await gql(adminKey, 'mutation($input: CreateAppInput!) { createApp(input: $input) { id } }', {
      input: { poolId, key: 'cad', name: 'CAD suite', cost: 3 },
    });
    const borrowed = async (hours: number, host: string) => {
      const res = await borrow(hours, host);
      if (res.body.errors) throw new Error(`setup: borrow ${JSON.stringify(res.body.errors)}`);
      return (res.body.data as { borrow: Lease }).borrow;
    };
    kept = await borrowed(24, 'laptop-kept');
    revoked = await borrowed(36, 'laptop-revoked');
    online = (
      await gql<{ checkout: Lease }>(
        clientKey,
        `mutation($poolId: ID!) { checkout(input: { poolId: $poolId, app: "cad", host: "ws-online", leaseSeconds: 900 }) { ${LEASE_FIELDS} } }`,
        { poolId },
      )
    ).checkout;
    // The checks below rely on these; a setup that went otherwise says so here.
    if (createPool.maxBorrowHours !== 48 || !kept.borrowedUntil || !revoked.borrowedUntil || online.borrowedUntil !== null)
      throw new Error(`setup: pool ${createPool.maxBorrowHours}, leases ${JSON.stringify([kept, revoked, online])}`);
    admin = await openDashboard(browser, api.url, adminKey);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await api?.stop();
  });

  it('shows a borrowed lease with its borrowedUntil, a checked-out one without, and the pool\u2019s borrowing setting', async () => {
    const { page } = admin;
    await openPool(page);
    const hoursApart = (Date.parse(revoked.borrowedUntil!) - Date.parse(kept.borrowedUntil!)) / 3_600_000;
    expect(hoursApart).toBeCloseTo(12, 1);
    await expect(cell(page, kept.id, 'until').innerText()).resolves.toBe(`Borrowed until ${fmtTime(kept.borrowedUntil!)}`);
    await expect(cell(page, revoked.id, 'until').innerText()).resolves.toBe(`Borrowed until ${fmtTime(revoked.borrowedUntil!)}`);
    await expect(cell(page, online.id, 'until').innerText()).resolves.toBe('While heartbeats come');
    for (const l of [kept, revoked, online]) await expect(cell(page, l.id, 'state').innerText()).resolves.toBe('ACTIVE');
    await expect(cell(page, kept.id, 'host').innerText()).resolves.toBe('laptop-kept');
    expect((await poolNow()).maxBorrowHours).toBe(48);
    await expect(page.getByTestId('borrowing').innerText()).resolves.toBe('up to 48 h');
  });

  it('lets an ADMIN set maxBorrowHours: 721 is refused in the page (and by the server), 0 turns borrowing off, 72 is what the API then reads', async () => {
    const { page } = admin;
    const openEditor = async () => {
      await page.getByRole('button', { name: `Change borrowing of ${poolName}` }).click();
      return page.getByRole('form', { name: `Change borrowing of ${poolName}` });
    };
    let editor = await openEditor();
    const input = editor.getByLabel('Longest borrow (hours, 0 = off)');
    await input.fill('721');
    await expect(editor.getByRole('alert').innerText()).resolves.toBe('Enter a whole number of hours from 0 (borrowing off) to 720 (30 days).');
    await expect(editor.getByRole('button', { name: 'Save borrowing' }).isDisabled()).resolves.toBe(true);
    await input.press('Enter');
    await input.fill('2.5');
    await expect(editor.getByRole('alert').count()).resolves.toBe(1);
    expect((await poolNow()).maxBorrowHours).toBe(48);
    // The page's bound is the server's: it refuses 721 too, naming the field.
    const refused = await api.gql(adminKey, 'mutation($id: ID!) { updatePool(id: $id, input: { maxBorrowHours: 721 }) { id } }', { id: poolId });
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.maxBorrowHours' });

    await input.fill('0');
    await expect(editor.getByRole('alert').count()).resolves.toBe(0);
    await editor.getByRole('button', { name: 'Save borrowing' }).click();
    await page.getByText(`Borrowing in ${poolName} is now off.`).waitFor();
    await waitText(page, '[data-testid="borrowing"]', 'off');
    expect((await poolNow()).maxBorrowHours).toBe(0);
    const off = await borrow(1, 'laptop-refused');
    expect(off.body.errors?.[0]?.extensions.code).toBe('BORROW_NOT_ALLOWED');

    editor = await openEditor();
    await editor.getByLabel('Longest borrow (hours, 0 = off)').fill('72');
    await editor.getByRole('button', { name: 'Save borrowing' }).click();
    await page.getByText(`Borrowing in ${poolName} is now up to 72 h.`).waitFor();
    await waitText(page, '[data-testid="borrowing"]', 'up to 72 h');
    expect((await poolNow()).maxBorrowHours).toBe(72);
    await expect(page.getByRole('form', { name: `Change borrowing of ${poolName}` }).count()).resolves.toBe(0);
  });

  it('revokes a borrowed lease after a confirmation that says its credits stay held until borrowedUntil; the page says so, also after a reload', async () => {
    const { page } = admin;
    const until = fmtTime(revoked.borrowedUntil!);
    const button = page.getByRole('button', { name: `Revoke the borrowed lease of ${holder} on laptop-revoked (cad)` });
    const inUseBefore = (await poolNow()).inUse;
    expect(inUseBefore).toBe(kept.credits + revoked.credits + online.credits);

    // Dismissed: nothing happens.
    let asked = '';
    page.once('dialog', (d) => ((asked = d.message()), void d.dismiss()));
    await button.click();
    for (let waited = 0; !asked && waited < 5000; waited += 50) await page.waitForTimeout(50);
    expect(asked).toContain(`credits stay held until ${until}`);
    expect((await leaseNow(revoked.id)).state).toBe('ACTIVE');
    await expect(cell(page, revoked.id, 'state').innerText()).resolves.toBe('ACTIVE');

    asked = '';
    page.once('dialog', (d) => ((asked = d.message()), void d.accept()));
    await button.click();
    await waitText(page, `tr[data-row="${revoked.id}"] td[data-col="state"]`, 'REVOKED');
    expect(asked).toBe(
      `Revoke the borrowed lease of ${holder} on laptop-revoked (cad)? It reads REVOKED and joins the revocation list at once, but its ${revoked.credits} credits stay held until ${until} (its borrowedUntil): the tool may run offline until then.`,
    );
    await expect(cell(page, revoked.id, 'until').innerText()).resolves.toBe(`Revoked; credits stay held until ${until}`);
    await page.getByText(`Revoked the borrowed lease of ${holder} on laptop-revoked (cad): its ${revoked.credits} credits stay held until ${until}.`).waitFor();
    const after = await leaseNow(revoked.id);
    expect(after.state).toBe('REVOKED');
    expect(after.borrowedUntil).toBe(revoked.borrowedUntil);
    expect((await poolNow()).inUse).toBe(inUseBefore);
    // The other borrow is untouched.
    await expect(cell(page, kept.id, 'until').innerText()).resolves.toBe(`Borrowed until ${fmtTime(kept.borrowedUntil!)}`);

    // After a reload the revoked borrow comes from the server's REVOKED leases, still held.
    await page.reload();
    await page.locator(`tr[data-row="${revoked.id}"]`).waitFor();
    await expect(cell(page, revoked.id, 'state').innerText()).resolves.toBe('REVOKED');
    await expect(cell(page, revoked.id, 'until').innerText()).resolves.toBe(`Revoked; credits stay held until ${until}`);
    await expect(page.getByTestId('held-note').innerText()).resolves.toContain('1 revoked borrowed lease still holds its credits until its borrowedUntil');
    await expect(page.locator('[data-testid="in-use"]').innerText()).resolves.toBe(String(inUseBefore));
    await expect(page.getByRole('button', { name: `Revoke the borrowed lease of ${holder} on laptop-revoked (cad)` }).count()).resolves.toBe(0);
  });

  it('shows a VIEWER the borrowed leases and the setting, with no control to change either', async () => {
    const viewer = await openDashboard(browser, api.url, viewerKey);
    const { page } = viewer;
    try {
      await openPool(page);
      await expect(page.getByTestId('borrowing').innerText()).resolves.toBe('up to 72 h');
      await expect(cell(page, kept.id, 'until').innerText()).resolves.toBe(`Borrowed until ${fmtTime(kept.borrowedUntil!)}`);
      await page.locator(`tr[data-row="${revoked.id}"]`).waitFor();
      await expect(cell(page, revoked.id, 'until').innerText()).resolves.toBe(`Revoked; credits stay held until ${fmtTime(revoked.borrowedUntil!)}`);
      await expect(page.locator('button:text-matches("^(Change borrowing|Save borrowing|Revoke|Change cap)$")').count()).resolves.toBe(0);
      await expect(page.locator('[role="alert"]').count()).resolves.toBe(0);
      expect(viewer.errors).toEqual([]);
    } finally {
      await viewer.context.close();
    }
  });

  it('finds no serious or critical accessibility violation on the pool page with the borrowing editor showing its message (axe-core)', async () => {
    const { context, page } = await openDashboard(browser, api.url, adminKey, { bypassCSP: true });
    try {
      await openPool(page);
      await page.getByRole('button', { name: `Change borrowing of ${poolName}` }).click();
      await page.getByLabel('Longest borrow (hours, 0 = off)').fill('1000');
      await page
        .getByRole('form', { name: `Change borrowing of ${poolName}` })
        .getByRole('alert')
        .waitFor();
      expect(await seriousViolations(page)).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('had no console error on the ADMIN page', () => {
    expect(admin.errors).toEqual([]);
  });
});
