import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openDashboard, seriousViolations } from './support/browser';
import { type ApiProcess, runCli, startApi } from './support/processes';

/**
 * The dashboard's Import page in Chromium against a spawned API: an ADMIN uploads a real
 * FlexNet log (test/fixtures/license-logs) into a pool where one of its two features has an
 * app, reads the summary (the other feature listed as unmatched, with the hint), sees the
 * shelfware report over the imported window, sets the other app's external names on the pool
 * page (the server holds them), and imports again: the newly matched feature's lease is
 * recorded, the rest are duplicates. A VIEWER has no Import page.
 */
const FIXTURE = join(__dirname, 'fixtures', 'license-logs', 'flexlm-autodesk.log');
const TEXT = readFileSync(FIXTURE, 'utf8');
const OUT = TEXT.split('\n').filter((l) => /\) OUT: "/.test(l));
const FEATURES = [...new Set(OUT.map((l) => /OUT: "([^"]+)"/.exec(l)![1]))].sort();

describe('the Import page in Chromium', () => {
  let api: ApiProcess;
  let browser: Browser;
  let adminKey: string;
  let viewerKey: string;
  let poolId: string;
  const poolName = `cad-${randomUUID().slice(0, 8)}`;
  /** Matches FEATURES[1] by its key; the other app gets FEATURES[0] as an external name in the test. */
  const keyApp = FEATURES[1].toLowerCase();
  const namedApp = `autocad-${randomUUID().slice(0, 6)}`;
  let admin: { page: Page; errors: string[] };

  async function gql<T>(key: string, query: string, variables?: Record<string, unknown>): Promise<T> {
    const res = await api.gql(key, query, variables);
    if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
    return res.body.data as T;
  }

  const summary = (page: Page, nth: number) => page.getByTestId('import-summary').nth(nth);
  const figure = async (page: Page, nth: number, id: string) => (await summary(page, nth).getByTestId(id).textContent())?.trim();

  async function importThrough(page: Page): Promise<void> {
    await page.goto(`${api.url}/ui/#/import`);
    await page.getByRole('heading', { name: 'Import license logs', level: 1 }).waitFor();
    await page.getByLabel('Pool').selectOption({ label: poolName });
    await page.getByLabel('Format').selectOption('flexlm');
    await page.getByLabel('Time zone of the log').fill('Europe/Madrid');
    await page.getByLabel('Log files').setInputFiles(FIXTURE);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await summary(page, 0).waitFor();
  }

  beforeAll(async () => {
    if (OUT.length < 2 || FEATURES.length !== 2) throw new Error(`fixture: ${OUT.length} OUT lines, features ${FEATURES.join(', ')}`);
    browser = await launchChromium();
    api = await startApi();
    const created = await runCli(['org', 'create', `ui-import-${randomUUID()}`]);
    if (created.code !== 0) throw new Error(created.stderr);
    adminKey = (JSON.parse(created.stdout.trim().split('\n').at(-1)!) as { adminKey: string }).adminKey;
    const { createPool } = await gql<{ createPool: { id: string } }>(adminKey, 'mutation($i: CreatePoolInput!) { createPool(input: $i) { id } }', {
      i: { name: poolName, cap: 10 },
    });
    poolId = createPool.id;
    for (const key of [keyApp, namedApp]) {
      await gql(adminKey, 'mutation($i: CreateAppInput!) { createApp(input: $i) { id } }', { i: { poolId, key, name: key, cost: 2 } });
    }
    const { createPrincipal } = await gql<{ createPrincipal: { id: string } }>(
      adminKey,
      'mutation($i: CreatePrincipalInput!) { createPrincipal(input: $i) { id } }',
      { i: { name: 'ui-import-viewer', kind: 'AGENT', orgUnitKind: 'CHANGE' } },
    );
    viewerKey = (
      await gql<{ createApiKey: { secret: string } }>(adminKey, 'mutation($p: ID!) { createApiKey(principalId: $p, role: VIEWER) { secret } }', {
        p: createPrincipal.id,
      })
    ).createApiKey.secret;
    admin = await openDashboard(browser, api.url, adminKey, { bypassCSP: true });
  });

  afterAll(async () => {
    await admin?.page.context().close();
    await browser?.close();
    await api?.stop();
  });

  it('uploads a FlexNet log: the summary, the unmatched feature with its hint, the shelfware report over the window', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Import' }).click();
    await importThrough(page);
    expect(await page.getByTestId('import-summary').count()).toBe(1);
    // One of the two features has an app: its one check-out is a lease; the other feature is listed, not recorded.
    expect(await figure(page, 0, 'import-leases')).toBe('1');
    expect(await figure(page, 0, 'import-denials')).toBe('0');
    expect(await figure(page, 0, 'import-duplicates')).toBe('0');
    expect(await figure(page, 0, 'import-estimated')).toBe('0');
    // lmgrd's start line (3/30/2016 1:56:05 in Madrid) to the last check-in (4/14/2016 0:52:44).
    expect(await figure(page, 0, 'import-first')).toBe('2016-03-29 23:56:05 UTC');
    expect(await figure(page, 0, 'import-last')).toBe('2016-04-13 22:52:44 UTC');
    const unmatched = summary(page, 0).getByTestId('import-unmatched');
    expect(await unmatched.textContent()).toContain(`${FEATURES[0]}.`);
    expect(await unmatched.textContent()).not.toContain(FEATURES[1]);
    expect(await unmatched.getByRole('link', { name: 'pool page' }).getAttribute('href')).toBe(`#/pools/${poolId}`);

    // The shelfware report over the window in whole hours: the matched app's one lease, the other app none.
    expect(await page.getByTestId('import-window').textContent()).toContain('From 2016-03-29 23:00:00 UTC to 2016-04-13 23:00:00 UTC');
    const shelfware = page.getByTestId('shelfware');
    await shelfware.waitFor();
    expect((await shelfware.locator(`tr[data-row="${keyApp}"] td[data-col="leases"]`).textContent())?.trim()).toBe('1');
    expect((await shelfware.locator(`tr[data-row="${namedApp}"] td[data-col="leases"]`).textContent())?.trim()).toBe('0');
    expect(await seriousViolations(page)).toEqual([]);
  });

  it("sets an app's external names on the pool page (the server holds them); importing again records that feature's lease", async () => {
    const { page } = admin;
    await page.goto(`${api.url}/ui/#/pools/${poolId}`);
    await page.getByRole('button', { name: `Edit app ${namedApp}` }).click();
    const form = page.getByRole('form', { name: `Edit app ${namedApp}` });
    await form.getByLabel('External names (comma-separated)').fill(` ${FEATURES[0]} , ${FEATURES[0]}_OLD,, `);
    await form.getByRole('button', { name: 'Save app' }).click();
    await form.waitFor({ state: 'detached' });
    const { pool } = await gql<{ pool: { apps: { key: string; externalNames: string[] }[] } }>(
      adminKey,
      'query($id: ID!) { pool(id: $id) { apps { key externalNames } } }',
      { id: poolId },
    );
    expect(pool.apps.find((a) => a.key === namedApp)?.externalNames).toEqual([FEATURES[0], `${FEATURES[0]}_OLD`]);
    expect(pool.apps.find((a) => a.key === keyApp)?.externalNames).toEqual([]);
    // The apps table shows them, one chip each.
    expect(await page.locator(`tr[data-row] td[data-col="external"] code.chip`).allTextContents()).toEqual([FEATURES[0], `${FEATURES[0]}_OLD`]);

    await importThrough(page);
    expect(await figure(page, 0, 'import-leases')).toBe('1');
    // What the first import recorded (the matched feature's check-out and check-in) comes again as duplicates.
    expect(await figure(page, 0, 'import-duplicates')).toBe('1');
    expect(await summary(page, 0).getByTestId('import-unmatched').count()).toBe(0);
    const shelfware = page.getByTestId('shelfware');
    await shelfware.waitFor();
    for (const key of [keyApp, namedApp]) expect((await shelfware.locator(`tr[data-row="${key}"] td[data-col="leases"]`).textContent())?.trim()).toBe('1');
    expect(admin.errors).toEqual([]);
  });

  it('shows a refused file with its line, and no Import page to a VIEWER', async () => {
    const { page } = admin;
    await page.goto(`${api.url}/ui/#/import`);
    await page.getByLabel('Pool').selectOption({ label: poolName });
    await page
      .getByLabel('Log files')
      .setInputFiles({ name: 'junk.log', mimeType: 'application/octet-stream', buffer: Buffer.from('hello\n\u0000\u0001 junk\n') });
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const failure = page.getByTestId('import-failure');
    await failure.waitFor();
    expect(await failure.textContent()).toContain('junk.log was refused');
    expect(await failure.getByRole('alert').textContent()).toMatch(/^BAD_USER_INPUT: line 2: /);

    const viewer = await openDashboard(browser, api.url, viewerKey);
    try {
      expect(await viewer.page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Import' }).count()).toBe(0);
      await viewer.page.goto(`${api.url}/ui/#/import`);
      await viewer.page.getByText('Importing license logs is for ADMIN keys.').waitFor();
      expect(viewer.errors).toEqual([]);
    } finally {
      await viewer.context.close();
    }
  });
});
