import { DataSource } from 'typeorm';
import { codeOf, TestApp } from './support/app';
import { CHECKIN, CHECKOUT, createPool, LeaseShape } from './support/catalog';

const WINDOW_SECONDS = 3600;
const DENIALS = `query($p: ID!, $from: DateTime!, $to: DateTime!) {
  denials(poolId: $p, from: $from, to: $to) { reason requested available count at lastAt principal { id } }
}`;
const SHELFWARE = `query($p: ID!, $from: DateTime!, $to: DateTime!) { shelfwareReport(poolId: $p, from: $from, to: $to) { denials falseDenials apps { denials } } }`;
const USAGE = `query($p: ID!, $from: DateTime!, $to: DateTime!) { poolUsage(poolId: $p, from: $from, to: $to, bucket: HOUR) { denials falseDenials } }`;

interface DenialShape {
  reason: string;
  requested: number;
  available: number;
  count: number;
  at: string;
  lastAt: string;
  principal: { id: string };
}

describe('denials: repeated refusals of the same principal, app, pool and reason share a row', () => {
  let t: TestApp;
  let t2: TestApp;
  let dataSource: DataSource;
  let adminKey: string;
  let holder: { key: string; principalId: string };
  let client: { key: string; principalId: string };

  beforeAll(async () => {
    // Hour-long windows: a burst of refusals in this file never waits for one to end.
    Object.assign(process.env, { DENIAL_COALESCE_SECONDS: String(WINDOW_SECONDS), METRICS_PORT: '0' });
    t = await TestApp.start();
    t2 = await TestApp.start();
    dataSource = t.app.get(DataSource);
    ({ adminKey } = await t.organization('denials'));
    holder = await t.principalWithKey(adminKey, 'CLIENT', { name: 'holder' });
    client = await t.principalWithKey(adminKey, 'CLIENT', { name: 'refused', team: 'cae' });
  });

  afterAll(async () => {
    await t2?.close();
    await t?.close();
  });

  /** A pool of 10 whose one app costs 10, held by `holder`: every other check-out is refused. */
  async function exhaustedPool() {
    const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'cad', cost: 10 }] });
    const held = await t.gql<{ checkout: LeaseShape }>(holder.key, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('cad'), leaseSeconds: 600 } });
    return { ...pool, leaseId: held.data!.checkout.id };
  }

  const refuse = (app: TestApp, poolId: string, appKey: string, key = client.key) => app.gql(key, CHECKOUT, { input: { poolId, app: appKey } });
  const around = () => ({ from: new Date(Date.now() - 3 * 3_600_000).toISOString(), to: new Date(Date.now() + 3_600_000).toISOString() });

  async function denials(poolId: string): Promise<DenialShape[]> {
    const res = await t.gql<{ denials: DenialShape[] }>(adminKey, DENIALS, { p: poolId, ...around() });
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    return res.data.denials;
  }

  // Windows are aligned on the database clock; a burst that straddled two of them would
  // rightly make two rows, so a burst starts at least a minute before a window ends.
  async function awayFromWindowEnd(): Promise<void> {
    const [{ left }]: { left: string }[] = await dataSource.query(`SELECT $1 - mod(extract(epoch FROM now())::numeric, $1) AS left`, [WINDOW_SECONDS]);
    if (Number(left) < 60) await new Promise((resolve) => setTimeout(resolve, (Number(left) + 1) * 1000));
  }

  it('counts 50 refusals at once, from two API instances, on one row with count 50, and the reports count 50', async () => {
    const pool = await exhaustedPool();
    await awayFromWindowEnd();
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => refuse(i % 2 === 0 ? t : t2, pool.poolId, pool.keyOf('cad'))));
    expect(answers.map((a) => codeOf(a))).toEqual(Array(50).fill('POOL_EXHAUSTED'));
    const rows: { count: number }[] = await dataSource.query('SELECT count FROM denials WHERE pool_id = $1', [pool.poolId]);
    expect(rows).toEqual([{ count: 50 }]);
    const [listed] = await denials(pool.poolId);
    expect(listed).toMatchObject({ reason: 'POOL_EXHAUSTED', requested: 10, available: 0, count: 50, principal: { id: client.principalId } });
    expect(new Date(listed.lastAt).getTime()).toBeGreaterThanOrEqual(new Date(listed.at).getTime());
    const report = await t.gql<{ shelfwareReport: { denials: number; falseDenials: number; apps: { denials: number }[] } }>(adminKey, SHELFWARE, {
      p: pool.poolId,
      ...around(),
    });
    expect(report.data?.shelfwareReport).toEqual({ denials: 50, falseDenials: 0, apps: [{ denials: 50 }] });
    const series = await t.gql<{ poolUsage: { denials: number; falseDenials: number }[] }>(adminKey, USAGE, { p: pool.poolId, ...around() });
    expect(series.data!.poolUsage.reduce((sum, p) => sum + p.denials, 0)).toBe(50);
  }, 180_000);

  it('starts a new row for a refusal after the window, and keeps another principal on a row of its own', async () => {
    const pool = await exhaustedPool();
    await awayFromWindowEnd();
    for (let i = 0; i < 3; i++) expect(codeOf(await refuse(t, pool.poolId, pool.keyOf('cad')))).toBe('POOL_EXHAUSTED');
    expect((await denials(pool.poolId)).map((d) => d.count)).toEqual([3]);
    // As if those three had been refused a window ago.
    await dataSource.query(
      `UPDATE denials SET at = at - make_interval(secs => $2), last_at = last_at - make_interval(secs => $2), bucket_start = bucket_start - make_interval(secs => $2) WHERE pool_id = $1`,
      [pool.poolId, WINDOW_SECONDS],
    );
    expect(codeOf(await refuse(t, pool.poolId, pool.keyOf('cad')))).toBe('POOL_EXHAUSTED');
    expect(codeOf(await refuse(t, pool.poolId, pool.keyOf('cad'), adminKey))).toBe('POOL_EXHAUSTED');
    const rows = await denials(pool.poolId);
    expect(rows.map((d) => d.count)).toEqual([3, 1, 1]);
    expect(rows[2].principal.id).not.toBe(client.principalId);
  }, 180_000);

  it('counts every refusal of a row as false when the principal gets the app soon after the last one', async () => {
    const pool = await exhaustedPool();
    await awayFromWindowEnd();
    for (let i = 0; i < 3; i++) expect(codeOf(await refuse(t, pool.poolId, pool.keyOf('cad')))).toBe('POOL_EXHAUSTED');
    expect((await t.gql(holder.key, CHECKIN, { id: pool.leaseId })).errors).toBeUndefined();
    expect((await refuse(t, pool.poolId, pool.keyOf('cad'))).errors).toBeUndefined();
    const report = await t.gql<{ shelfwareReport: { denials: number; falseDenials: number } }>(adminKey, SHELFWARE, { p: pool.poolId, ...around() });
    expect(report.data?.shelfwareReport).toMatchObject({ denials: 0, falseDenials: 3 });
  }, 180_000);
});
