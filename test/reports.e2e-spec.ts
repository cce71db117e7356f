import { DataSource } from 'typeorm';
import { HistoryImportInput, HistoryImportService } from '../src/history/history-import.service';
import { UsageRollupsService } from '../src/reports/usage-rollups.service';
import { UsageSourceService } from '../src/reports/usage-source.service';
import { codeOf, TestApp } from './support/app';
import { CHECKOUT, createPool, PoolFixture } from './support/catalog';
import { runCli } from './support/processes';

const HOUR = 3_600_000;
const MIN = 60_000;
// A UTC midnight ten days ago: every history below lies in the past and on hour boundaries.
const T0 = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 10 * 86_400_000;
const at = (hours: number, minutes = 0, seconds = 0) => new Date(T0 + hours * HOUR + minutes * MIN + seconds * 1000);

const SHELFWARE = `query($p: ID!, $from: DateTime!, $to: DateTime!, $tol: Float) {
  shelfwareReport(poolId: $p, from: $from, to: $to, tolerance: $tol) {
    pool { id } from to cap peakInUse p95InUse averageInUse utilization unusedCreditHours denials falseDenials suggestedCap estimatedSavings
    apps { app { key } leases creditHours peakCredits distinctPrincipals denials idleCreditHours }
    lapsedPrincipals { id name }
  }
}`;
const USAGE = `query($p: ID!, $from: DateTime!, $to: DateTime!, $b: Bucket!) { poolUsage(poolId: $p, from: $from, to: $to, bucket: $b) { start cap peakInUse averageInUse denials falseDenials } }`;
const HISTOGRAM = `query($p: ID!, $from: DateTime!, $to: DateTime!) { usageHistogram(poolId: $p, from: $from, to: $to) { credits shareOfTime } }`;
const SIMULATE = `query($p: ID!, $cap: Int!, $from: DateTime!, $to: DateTime!, $w: Int) { simulateCap(poolId: $p, cap: $cap, from: $from, to: $to, maxWaitSeconds: $w) { cap requests denied delayed deniedCreditHours longestWaitSeconds } }`;

interface AppUsageShape {
  app: { key: string };
  leases: number;
  creditHours: number;
  peakCredits: number;
  distinctPrincipals: number;
  denials: number;
  idleCreditHours: number;
}
interface ShelfwareShape {
  cap: number;
  peakInUse: number;
  p95InUse: number;
  averageInUse: number;
  utilization: number;
  unusedCreditHours: number;
  denials: number;
  falseDenials: number;
  suggestedCap: number;
  estimatedSavings: number | null;
  apps: AppUsageShape[];
  lapsedPrincipals: { id: string; name: string }[];
}

describe('pool reports: shelfware, usage series, histogram, what-if caps', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let history: HistoryImportService;
  let rollups: UsageRollupsService;
  let adminKey: string;
  let viewerKey: string;
  let ann: string;
  let bob: string;
  let carol: string;

  beforeAll(async () => {
    t = await TestApp.start();
    dataSource = t.app.get(DataSource);
    history = t.app.get(HistoryImportService);
    rollups = t.app.get(UsageRollupsService);
    ({ adminKey } = await t.organization('reports'));
    viewerKey = (await t.principalWithKey(adminKey, 'VIEWER', { name: 'finance' })).key;
    ann = (await t.principalWithKey(adminKey, 'CLIENT', { name: 'ann', team: 'cae' })).principalId;
    bob = (await t.principalWithKey(adminKey, 'CLIENT', { name: 'bob', team: 'cae' })).principalId;
    carol = (await t.principalWithKey(adminKey, 'CLIENT', { name: 'carol', team: 'design' })).principalId;
  });

  afterAll(async () => {
    await t.close();
  });

  async function shelfware(poolId: string, from: Date, to: Date, tolerance?: number, key = viewerKey): Promise<ShelfwareShape> {
    const res = await t.gql<{ shelfwareReport: ShelfwareShape }>(key, SHELFWARE, { p: poolId, from: from.toISOString(), to: to.toISOString(), tol: tolerance });
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    return res.data.shelfwareReport;
  }

  async function importHistory(pool: PoolFixture, input: Omit<HistoryImportInput, 'organizationId' | 'poolId'>) {
    const organizationId: string = (await dataSource.query('SELECT organization_id FROM pools WHERE id = $1', [pool.poolId]))[0].organization_id;
    return history.import({ organizationId, poolId: pool.poolId, ...input });
  }

  function app(report: ShelfwareShape, key: string): AppUsageShape {
    return report.apps.find((a) => a.app.key.startsWith(`${key}-`))!;
  }

  /**
   * Pool of 20 credits, cad at 6 and viewer at 2, over [T0, T0+10h):
   *   ann  cad     1:00-5:00  (idle 2:30-3:30)
   *   bob  viewer  2:00-3:00,  4:00-4:30
   *   ann  viewer  2:00-2:12
   * In use: 0 for 6 h, 6 for 2.5 h, 8 for 1.3 h, 10 for 0.2 h.
   */
  async function poolA() {
    const pool = await createPool(t, adminKey, {
      cap: 20,
      apps: [
        { key: 'cad', cost: 6 },
        { key: 'viewer', cost: 2 },
        { key: 'unused', cost: 3 },
      ],
    });
    await importHistory(pool, {
      leases: [
        { appId: pool.apps.cad, principalId: ann, acquiredAt: at(1), endedAt: at(5), idle: [{ startedAt: at(2, 30), endedAt: at(3, 30) }] },
        { appId: pool.apps.viewer, principalId: bob, acquiredAt: at(2), endedAt: at(3) },
        { appId: pool.apps.viewer, principalId: bob, acquiredAt: at(4), endedAt: at(4, 30) },
        { appId: pool.apps.viewer, principalId: ann, acquiredAt: at(2), endedAt: at(2, 12), state: 'EXPIRED' },
      ],
    });
    return pool;
  }

  describe('shelfwareReport', () => {
    it('measures peak, p95, average, utilization and unused credit-hours over the window', async () => {
      const pool = await poolA();
      const report = await shelfware(pool.poolId, at(0), at(10));
      // Credit-hours used: 6 x 2.5 + 8 x 1.3 + 10 x 0.2 = 27.4; capacity 20 x 10 = 200.
      expect(report).toMatchObject({ cap: 20, peakInUse: 10, p95InUse: 8, denials: 0, falseDenials: 0 });
      expect(report.averageInUse).toBeCloseTo(2.74, 6);
      expect(report.utilization).toBeCloseTo(0.137, 6);
      expect(report.unusedCreditHours).toBeCloseTo(172.6, 6);
    });

    it('breaks use down per app, with idle credit-hours and shelfware apps at zero', async () => {
      const pool = await poolA();
      const report = await shelfware(pool.poolId, at(0), at(10));
      expect(report.apps.map((a) => a.app.key)).toEqual([pool.keyOf('cad'), pool.keyOf('unused'), pool.keyOf('viewer')]);
      expect(app(report, 'cad')).toMatchObject({ leases: 1, peakCredits: 6, distinctPrincipals: 1, denials: 0 });
      expect(app(report, 'cad').creditHours).toBeCloseTo(24, 6);
      expect(app(report, 'cad').idleCreditHours).toBeCloseTo(6, 6);
      // viewer: 2 x (1 + 0.5 + 0.2) credit-hours; bob and ann both held one at 2:00-2:12.
      expect(app(report, 'viewer')).toMatchObject({ leases: 3, peakCredits: 4, distinctPrincipals: 2, idleCreditHours: 0 });
      expect(app(report, 'viewer').creditHours).toBeCloseTo(3.4, 6);
      expect(app(report, 'unused')).toEqual({
        app: { key: pool.keyOf('unused') },
        leases: 0,
        creditHours: 0,
        peakCredits: 0,
        distinctPrincipals: 0,
        denials: 0,
        idleCreditHours: 0,
      });
    });

    it('suggests the highest level a request needed, and the savings at the pool price', async () => {
      const pool = await poolA();
      // Requests needed 6 (cad), 8 and 10 (the two viewers at 2:00), 8 (viewer at 4:00).
      const exact = await shelfware(pool.poolId, at(0), at(10));
      expect(exact.suggestedCap).toBe(10);
      expect(exact.estimatedSavings).toBeCloseTo((20 - 10) * 10 * 1.5, 6);
      // Tolerating a quarter of the four requests refuses the one at 10.
      const tolerant = await shelfware(pool.poolId, at(0), at(10), 0.25);
      expect(tolerant.suggestedCap).toBe(8);
      expect(tolerant.estimatedSavings).toBeCloseTo((20 - 8) * 10 * 1.5, 6);
      // Never below the dearest app (6), even where nothing was asked for.
      const quiet = await shelfware(pool.poolId, at(6), at(10));
      expect(quiet).toMatchObject({ peakInUse: 0, suggestedCap: 6, averageInUse: 0, utilization: 0 });
    });

    it('reads a window shorter than an hour exactly from raw rows', async () => {
      const pool = await poolA();
      const report = await shelfware(pool.poolId, at(2, 5), at(2, 20));
      // 2:05-2:12 at 10 (7 min), 2:12-2:20 at 8 (8 min).
      expect(report).toMatchObject({ peakInUse: 10, p95InUse: 10 });
      expect(report.averageInUse).toBeCloseTo((10 * 7 + 8 * 8) / 15, 6);
      const histogram = await t.gql<{ usageHistogram: { credits: number; shareOfTime: number }[] }>(viewerKey, HISTOGRAM, {
        p: pool.poolId,
        from: at(2, 5).toISOString(),
        to: at(2, 20).toISOString(),
      });
      expect(histogram.data?.usageHistogram.map((l) => l.credits)).toEqual([8, 10]);
      expect(histogram.data?.usageHistogram[0].shareOfTime).toBeCloseTo(8 / 15, 6);
    });

    it('tells true denials from false ones and right-sizes on the true ones', async () => {
      const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'solver', cost: 8 }] });
      const solver = pool.apps.solver;
      await importHistory(pool, {
        leases: [
          { appId: solver, principalId: ann, acquiredAt: at(1), endedAt: at(2) },
          { appId: solver, principalId: bob, acquiredAt: at(2, 0, 10), endedAt: at(2, 30) },
          { appId: solver, principalId: ann, acquiredAt: at(6, 1, 30), endedAt: at(6, 10) },
        ],
        denials: [
          { appId: solver, principalId: bob, at: at(1, 10) }, // true: bob never got it soon after
          { appId: solver, principalId: bob, at: at(1, 59, 30) }, // false: granted 40 s later
          { appId: solver, principalId: carol, at: at(5), reason: 'GROUP_LIMIT_REACHED' }, // true, but no cap would have helped
          { appId: solver, principalId: ann, at: at(6) }, // true: granted 90 s later, past the 60 s interval
        ],
      });
      const report = await shelfware(pool.poolId, at(0), at(8));
      expect(report).toMatchObject({ denials: 3, falseDenials: 1 });
      expect(app(report, 'solver')).toMatchObject({ denials: 3, leases: 3 });
      // The true denial at 1:10 needed 8 held + 8 asked = 16, above the cap: no savings.
      expect(report).toMatchObject({ suggestedCap: 16, estimatedSavings: null });
      const series = await t.gql<{
        poolUsage: { start: string; cap: number; peakInUse: number; averageInUse: number; denials: number; falseDenials: number }[];
      }>(viewerKey, USAGE, {
        p: pool.poolId,
        from: at(0).toISOString(),
        to: at(4).toISOString(),
        b: 'HOUR',
      });
      const points = series.data!.poolUsage;
      expect(points.map((p) => [p.start, p.cap, p.peakInUse, p.denials, p.falseDenials])).toEqual([
        [at(0).toISOString(), 10, 0, 0, 0],
        [at(1).toISOString(), 10, 8, 1, 1],
        [at(2).toISOString(), 10, 8, 0, 0],
        [at(3).toISOString(), 10, 0, 0, 0],
      ]);
      expect(points[1].averageInUse).toBeCloseTo(8, 6);
      expect(points[2].averageInUse).toBeCloseTo((8 * 1790) / 3600, 6);
    });

    it('uses the cap in force at each instant when it changed mid-window', async () => {
      const pool = await createPool(t, adminKey, {
        cap: 10,
        apps: [
          { key: 'cad', cost: 4 },
          { key: 'big', cost: 6 },
        ],
      });
      // Before the pool came here: cap 4 from T0, 8 from 2:00.
      await importHistory(pool, {
        capChanges: [
          { at: at(0), cap: 4 },
          { at: at(2), cap: 8 },
        ],
        leases: [{ appId: pool.apps.cad, principalId: ann, acquiredAt: at(1), endedAt: at(3) }],
      });
      const report = await shelfware(pool.poolId, at(0), at(4));
      // Capacity 4 x 2 + 8 x 2 = 24 credit-hours, 8 used.
      expect(report.cap).toBe(8);
      expect(report.unusedCreditHours).toBeCloseTo(16, 6);
      expect(report.utilization).toBeCloseTo(8 / 24, 6);
      const series = await t.gql<{ poolUsage: { cap: number }[] }>(viewerKey, USAGE, {
        p: pool.poolId,
        from: at(0).toISOString(),
        to: at(4).toISOString(),
        b: 'HOUR',
      });
      expect(series.data?.poolUsage.map((p) => p.cap)).toEqual([4, 4, 8, 8]);
      // A draw that would have opened above the cap then is refused, with the lease named.
      const refused = importHistory(pool, { leases: [{ appId: pool.apps.big, principalId: bob, acquiredAt: at(1, 30), endedAt: at(1, 40) }] });
      await expect(refused).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { field: 'leases[0]' } });
    });

    it('lists principals who used the pool in the 90 days before the window and not in it', async () => {
      const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'cad', cost: 2 }] });
      const cad = pool.apps.cad;
      await importHistory(pool, {
        leases: [
          { appId: cad, principalId: ann, acquiredAt: at(-30 * 24), endedAt: at(-30 * 24 + 1) }, // lapsed
          { appId: cad, principalId: carol, acquiredAt: at(-100 * 24), endedAt: at(-100 * 24 + 1) }, // too long ago
          { appId: cad, principalId: bob, acquiredAt: at(-20 * 24), endedAt: at(-20 * 24 + 1) },
          { appId: cad, principalId: bob, acquiredAt: at(3), endedAt: at(4) }, // active in the window
        ],
      });
      const report = await shelfware(pool.poolId, at(0), at(24));
      expect(report.lapsedPrincipals.map((p) => p.name)).toEqual(['ann']);
      expect(app(report, 'cad').distinctPrincipals).toBe(1);
    });

    it('counts a shared draw once, and a draw held now from its live lease', async () => {
      const pool = await createPool(t, adminKey, { cap: 20, apps: [{ key: 'shared', cost: 5, shareScope: 'PRINCIPAL' }] });
      await importHistory(pool, {
        leases: [
          { appId: pool.apps.shared, principalId: ann, acquiredAt: at(1), endedAt: at(2) },
          { appId: pool.apps.shared, principalId: ann, acquiredAt: at(1, 30), endedAt: at(3) },
        ],
      });
      const past = await shelfware(pool.poolId, at(0), at(4));
      expect(app(past, 'shared')).toMatchObject({ leases: 2, peakCredits: 5 });
      expect(app(past, 'shared').creditHours).toBeCloseTo(10, 6);
      const client = await t.principalWithKey(adminKey, 'CLIENT', { name: 'live' });
      const lease = await t.gql(client.key, CHECKOUT, { input: { poolId: pool.poolId, app: pool.keyOf('shared'), leaseSeconds: 600 } });
      expect(lease.errors).toBeUndefined();
      const now = await shelfware(pool.poolId, new Date(Date.now() - 30 * MIN), new Date(Date.now() + HOUR));
      expect(now.peakInUse).toBe(5);
      expect(app(now, 'shared').leases).toBe(1);
    });
  });

  describe('usageHistogram and poolUsage', () => {
    it('gives the share of time at each level of use', async () => {
      const pool = await poolA();
      const res = await t.gql<{ usageHistogram: { credits: number; shareOfTime: number }[] }>(viewerKey, HISTOGRAM, {
        p: pool.poolId,
        from: at(0).toISOString(),
        to: at(10).toISOString(),
      });
      const levels = res.data!.usageHistogram;
      expect(levels.map((l) => l.credits)).toEqual([0, 6, 8, 10]);
      [0.6, 0.25, 0.13, 0.02].forEach((share, i) => expect(levels[i].shareOfTime).toBeCloseTo(share, 6));
    });

    it('gives daily points over UTC days, the first one partial', async () => {
      const pool = await poolA();
      const res = await t.gql<{ poolUsage: { start: string; peakInUse: number; averageInUse: number }[] }>(viewerKey, USAGE, {
        p: pool.poolId,
        from: at(-12).toISOString(),
        to: at(24).toISOString(),
        b: 'DAY',
      });
      expect(res.data?.poolUsage.map((p) => [p.start, p.peakInUse])).toEqual([
        [at(-12).toISOString(), 0],
        [at(0).toISOString(), 10],
      ]);
      expect(res.data?.poolUsage[1].averageInUse).toBeCloseTo(27.4 / 24, 6);
    });
  });

  describe('simulateCap', () => {
    /**
     * Pool of 12, app at 4: ann holds 0:00-1:00, 0:10-0:40, 0:20-0:30; bob is truly denied at
     * 0:50 (replayed for the app's average draw, 100/3 min).
     */
    async function poolD() {
      const pool = await createPool(t, adminKey, { cap: 12, apps: [{ key: 'tool', cost: 4 }] });
      const tool = pool.apps.tool;
      await importHistory(pool, {
        leases: [
          { appId: tool, principalId: ann, acquiredAt: at(0), endedAt: at(1) },
          { appId: tool, principalId: ann, acquiredAt: at(0, 10), endedAt: at(0, 40) },
          { appId: tool, principalId: ann, acquiredAt: at(0, 20), endedAt: at(0, 30) },
        ],
        denials: [{ appId: tool, principalId: bob, at: at(0, 50) }],
      });
      return pool;
    }

    async function simulate(poolId: string, cap: number, maxWaitSeconds?: number) {
      const res = await t.gql<{
        simulateCap: { cap: number; requests: number; denied: number; delayed: number; deniedCreditHours: number; longestWaitSeconds: number };
      }>(viewerKey, SIMULATE, {
        p: poolId,
        cap,
        from: at(0).toISOString(),
        to: at(2).toISOString(),
        w: maxWaitSeconds,
      });
      if (!res.data) throw new Error(JSON.stringify(res.errors));
      return res.data.simulateCap;
    }

    it('replays the recorded demand at the recorded cap without refusing the grants', async () => {
      const pool = await poolD();
      // At 0:50 only the 0:00 draw is held: the denied request fits a cap of 12.
      expect(await simulate(pool.poolId, 12)).toEqual({ cap: 12, requests: 4, denied: 0, delayed: 0, deniedCreditHours: 0, longestWaitSeconds: 0 });
    });

    it('refuses what would wait longer than the allowed wait under a lower cap', async () => {
      const pool = await poolD();
      // Cap 8: the 0:20 request waits for 0:40, more than 300 s: refused (4 credits x 10 min).
      const result = await simulate(pool.poolId, 8);
      expect(result).toMatchObject({ requests: 4, denied: 1, delayed: 0, longestWaitSeconds: 0 });
      expect(result.deniedCreditHours).toBeCloseTo((4 * 10) / 60, 6);
    });

    it('delays instead when requests may wait long enough', async () => {
      const pool = await poolD();
      // Waiting up to 30 min, the 0:20 request starts at 0:40 (20 min late) and ends at 0:50.
      expect(await simulate(pool.poolId, 8, 1800)).toEqual({ cap: 8, requests: 4, denied: 0, delayed: 1, deniedCreditHours: 0, longestWaitSeconds: 1200 });
    });

    it('refuses everything below the app cost', async () => {
      const pool = await poolD();
      const result = await simulate(pool.poolId, 3);
      expect(result).toMatchObject({ requests: 4, denied: 4, delayed: 0 });
      expect(result.deniedCreditHours).toBeCloseTo((4 * (60 + 30 + 10 + 100 / 3)) / 60, 6);
    });
  });

  describe('denial rows that count several refusals', () => {
    const SIMULATE_WIDE = (poolId: string, cap: number, from: Date, to: Date) =>
      t.gql<{ simulateCap: { requests: number; denied: number } }>(viewerKey, SIMULATE, { p: poolId, cap, from: from.toISOString(), to: to.toISOString() });

    it('count every refusal of a row in shelfware, usage series, rollups, raw reads and simulateCap', async () => {
      const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'solver', cost: 8 }] });
      const solver = pool.apps.solver;
      await importHistory(pool, {
        leases: [
          { appId: solver, principalId: ann, acquiredAt: at(1), endedAt: at(2) },
          { appId: solver, principalId: bob, acquiredAt: at(2, 0, 10), endedAt: at(2, 30) },
          { appId: solver, principalId: ann, acquiredAt: at(6, 1, 30), endedAt: at(6, 10) },
        ],
        denials: [
          { appId: solver, principalId: bob, at: at(1, 10) }, // true
          { appId: solver, principalId: bob, at: at(1, 59, 30) }, // false: granted 40 s later
          { appId: solver, principalId: carol, at: at(5), reason: 'GROUP_LIMIT_REACHED' }, // true, no cap would have helped
          { appId: solver, principalId: ann, at: at(6) }, // true: granted 90 s later
        ],
      });
      // As live refusals are kept: bob refused 3 times at 1:10 and twice at 1:59:30, ann twice at 6:00.
      await dataSource.query(`UPDATE denials SET count = CASE at WHEN $2 THEN 3 WHEN $3 THEN 2 WHEN $4 THEN 2 ELSE count END WHERE pool_id = $1`, [
        pool.poolId,
        at(1, 10),
        at(1, 59, 30),
        at(6),
      ]);
      const ref = {
        id: pool.poolId,
        organizationId: (await dataSource.query('SELECT organization_id FROM pools WHERE id = $1', [pool.poolId]))[0].organization_id,
      };
      await rollups.rebuild(ref);
      const fromRollups = await shelfware(pool.poolId, at(0), at(8));
      expect(fromRollups).toMatchObject({ denials: 6, falseDenials: 2 });
      expect(app(fromRollups, 'solver')).toMatchObject({ denials: 6 });
      const series = await t.gql<{ poolUsage: { denials: number; falseDenials: number }[] }>(viewerKey, USAGE, {
        p: pool.poolId,
        from: at(0).toISOString(),
        to: at(3).toISOString(),
        b: 'HOUR',
      });
      expect(series.data!.poolUsage.map((p) => [p.denials, p.falseDenials])).toEqual([
        [0, 0],
        [3, 2],
        [0, 0],
      ]);
      for (const table of ['pool_usage_rollups', 'app_usage_rollups', 'usage_principal_days', 'usage_rollup_cursors'])
        await dataSource.query(`DELETE FROM ${table} WHERE pool_id = $1`, [pool.poolId]);
      expect(await shelfware(pool.poolId, at(0), at(8))).toEqual(fromRollups);
      // Three draws, and the true refusals for lack of credits: 3 of bob's, 2 of ann's.
      expect((await SIMULATE_WIDE(pool.poolId, 100, at(0), at(8))).data?.simulateCap).toMatchObject({ requests: 8, denied: 0 });
    });

    it('stream a window of denials to simulateCap a page at a time, never the whole window at once', async () => {
      const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'tool', cost: 1 }] });
      const organizationId: string = (await dataSource.query('SELECT organization_id FROM pools WHERE id = $1', [pool.poolId]))[0].organization_id;
      // 2,500 refusals, one every 2 s from 0:00.
      await dataSource.query(
        `INSERT INTO denials (organization_id, pool_id, app_id, principal_id, requested, available, reason, at)
         SELECT $1, $2, $3, $4, 1, 0, 'POOL_EXHAUSTED', $5::timestamptz + n * interval '2 seconds' FROM generate_series(0, 2499) n`,
        [organizationId, pool.poolId, pool.apps.tool, bob, at(0)],
      );
      // Every read of denials the simulation makes, whatever its name, is counted by its rows.
      const source = t.app.get(UsageSourceService) as unknown as Record<string, (...args: unknown[]) => Promise<unknown[]>>;
      const reads: number[] = [];
      const watched = ['denials', 'denialPage'].filter((name) => typeof source[name] === 'function');
      for (const name of watched) {
        const original = source[name];
        source[name] = async function (this: unknown, ...args: unknown[]) {
          const rows = await original.apply(this, args);
          reads.push(rows.length);
          return rows;
        };
      }
      try {
        expect((await SIMULATE_WIDE(pool.poolId, 10_000, at(0), at(2))).data?.simulateCap).toMatchObject({ requests: 2500, denied: 0 });
      } finally {
        for (const name of watched) delete source[name];
      }
      expect(reads.reduce((sum, n) => sum + n, 0)).toBe(2500);
      expect(Math.max(...reads)).toBeLessThanOrEqual(1000);
    });
  });

  describe('rollups', () => {
    /** The pool's rollup rows with their row versions (xmin): a write that changed nothing still shows. */
    async function rows(poolId: string): Promise<string> {
      const hours = await dataSource.query(`SELECT xmin::text, * FROM pool_usage_rollups WHERE pool_id = $1 ORDER BY bucket, start`, [poolId]);
      const apps = await dataSource.query(`SELECT xmin::text, * FROM app_usage_rollups WHERE pool_id = $1 ORDER BY bucket, start, app_id`, [poolId]);
      const principals = await dataSource.query(`SELECT xmin::text, * FROM usage_principal_days WHERE pool_id = $1 ORDER BY day, app_id, principal_id`, [
        poolId,
      ]);
      const cursor = await dataSource.query(`SELECT xmin::text, * FROM usage_rollup_cursors WHERE pool_id = $1`, [poolId]);
      return JSON.stringify({ hours, apps, principals, cursor });
    }

    it('are written by the import, and rolling up or rebuilding again writes nothing', async () => {
      const pool = await poolA();
      const before = await rows(pool.poolId);
      expect(JSON.parse(before).hours.filter((h: { bucket: string }) => h.bucket === 'HOUR')).toHaveLength(4);
      const ref = {
        id: pool.poolId,
        organizationId: (await dataSource.query('SELECT organization_id FROM pools WHERE id = $1', [pool.poolId]))[0].organization_id,
      };
      await rollups.rebuild(ref);
      await rollups.rebuild(ref);
      await rollups.rollPool(ref);
      expect(await rows(pool.poolId)).toEqual(before);
    });

    it('are rebuilt by the operator CLI, to the same rows', async () => {
      const pool = await poolA();
      const before = await rows(pool.poolId);
      const run = await runCli(['rollups', 'rebuild', '--pool', pool.poolId, '--from', at(0).toISOString(), '--to', at(5).toISOString()]);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual({ pools: 1, hours: 5 });
      expect(await rows(pool.poolId)).toEqual(before);
      expect((await runCli(['rollups', 'rebuild', '--pool', 'nope'])).code).toBe(1);
    });

    it('give the same answers as the raw rows, and again after a rebuild from scratch', async () => {
      const pool = await poolA();
      const ref = {
        id: pool.poolId,
        organizationId: (await dataSource.query('SELECT organization_id FROM pools WHERE id = $1', [pool.poolId]))[0].organization_id,
      };
      const fromRollups = await shelfware(pool.poolId, at(0, 30), at(30));
      const dayRows: { n: number }[] = await dataSource.query(`SELECT count(*)::int AS n FROM pool_usage_rollups WHERE pool_id = $1 AND bucket = 'DAY'`, [
        pool.poolId,
      ]);
      expect(dayRows[0].n).toBe(1);
      for (const table of ['pool_usage_rollups', 'app_usage_rollups', 'usage_principal_days', 'usage_rollup_cursors'])
        await dataSource.query(`DELETE FROM ${table} WHERE pool_id = $1`, [pool.poolId]);
      const fromRaw = await shelfware(pool.poolId, at(0, 30), at(30));
      expect(fromRaw).toEqual(fromRollups);
      await rollups.rollPool(ref);
      expect(await shelfware(pool.poolId, at(0, 30), at(30))).toEqual(fromRollups);
      expect(fromRollups.averageInUse).toBeCloseTo((27.4 - 0) / 29.5, 6);
    });
  });

  describe('access and arguments', () => {
    it('lets ADMIN and VIEWER read reports, refuses CLIENT keys', async () => {
      const pool = await createPool(t, adminKey, { cap: 5, apps: [{ key: 'x', cost: 1 }] });
      const client = await t.principalWithKey(adminKey, 'CLIENT', { name: 'nosy' });
      const vars = { p: pool.poolId, from: at(0).toISOString(), to: at(1).toISOString() };
      expect((await t.gql(adminKey, HISTOGRAM, vars)).errors).toBeUndefined();
      expect((await t.gql(viewerKey, HISTOGRAM, vars)).errors).toBeUndefined();
      for (const [query, extra] of [
        [HISTOGRAM, {}],
        [USAGE, { b: 'DAY' }],
        [SIMULATE, { cap: 3 }],
        [SHELFWARE, {}],
      ] as const) {
        expect(codeOf(await t.gql(client.key, query, { ...vars, ...extra }))).toBe('FORBIDDEN');
      }
    });

    it("answers NOT_FOUND for another organization's pool, and never shows its data", async () => {
      const other = await t.organization('reports-other');
      const foreign = await createPool(t, other.adminKey, { cap: 10, apps: [{ key: 'cad', cost: 6 }] });
      const stranger = (await t.principalWithKey(other.adminKey, 'CLIENT', { name: 'stranger' })).principalId;
      await history.import({
        organizationId: other.organizationId,
        poolId: foreign.poolId,
        leases: [{ appId: foreign.apps.cad, principalId: stranger, acquiredAt: at(1), endedAt: at(2) }],
      });
      const vars = { p: foreign.poolId, from: at(0).toISOString(), to: at(3).toISOString() };
      for (const [query, extra] of [
        [HISTOGRAM, {}],
        [USAGE, { b: 'HOUR' }],
        [SIMULATE, { cap: 3 }],
        [SHELFWARE, {}],
      ] as const) {
        const res = await t.gql(adminKey, query, { ...vars, ...extra });
        expect(codeOf(res)).toBe('NOT_FOUND');
        expect(res.errors?.[0].extensions.field).toBe('poolId');
        expect(res.data).toBeNull();
      }
      // Importing into it as this organization is refused too.
      const own = (await dataSource.query('SELECT organization_id FROM principals WHERE id = $1', [ann]))[0].organization_id;
      await expect(history.import({ organizationId: own, poolId: foreign.poolId, leases: [] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('refuses bad windows and arguments with the argument named', async () => {
      const pool = await createPool(t, adminKey, { cap: 5, apps: [{ key: 'x', cost: 1 }] });
      const bad = async (query: string, vars: Record<string, unknown>) => {
        const res = await t.gql(viewerKey, query, { p: pool.poolId, ...vars });
        return [codeOf(res), res.errors?.[0].extensions.field];
      };
      expect(await bad(HISTOGRAM, { from: at(2).toISOString(), to: at(1).toISOString() })).toEqual(['BAD_USER_INPUT', 'to']);
      expect(await bad(HISTOGRAM, { from: at(-24 * 401).toISOString(), to: at(1).toISOString() })).toEqual(['BAD_USER_INPUT', 'to']);
      expect(await bad(HISTOGRAM, { from: new Date(Date.now() + HOUR).toISOString(), to: new Date(Date.now() + 2 * HOUR).toISOString() })).toEqual([
        'BAD_USER_INPUT',
        'from',
      ]);
      expect(await bad(SHELFWARE, { from: at(0).toISOString(), to: at(1).toISOString(), tol: 1 })).toEqual(['BAD_USER_INPUT', 'tolerance']);
      expect(await bad(SIMULATE, { from: at(0).toISOString(), to: at(1).toISOString(), cap: -1 })).toEqual(['BAD_USER_INPUT', 'cap']);
      expect(await bad(SIMULATE, { from: at(0).toISOString(), to: at(1).toISOString(), cap: 5, w: -5 })).toEqual(['BAD_USER_INPUT', 'maxWaitSeconds']);
    });
  });

  describe('history import', () => {
    it('writes leases with unique negative fencing tokens and one imported draw per draw', async () => {
      const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'cad', cost: 2, shareScope: 'PRINCIPAL' }] });
      const cad = pool.apps.cad;
      const first = await importHistory(pool, {
        leases: [
          { appId: cad, principalId: ann, acquiredAt: at(1), endedAt: at(2) },
          { appId: cad, principalId: ann, acquiredAt: at(1, 30), endedAt: at(3) },
        ],
      });
      const second = await importHistory(pool, { leases: [{ appId: cad, principalId: bob, acquiredAt: at(0), endedAt: at(1) }] });
      expect([first.leases, first.draws, second.draws]).toEqual([2, 1, 1]);
      const leases: { fencing_token: string; credits: number; state: string; ended_at: Date }[] = await dataSource.query(
        'SELECT fencing_token, credits, state, ended_at FROM leases WHERE pool_id = $1 ORDER BY fencing_token',
        [pool.poolId],
      );
      expect(leases.map((l) => l.fencing_token)).toEqual(['-3', '-2', '-1']);
      expect(leases.map((l) => l.credits).sort()).toEqual([0, 2, 2]);
      const draws: { credits: number; source: string; credit_seconds: string }[] = await dataSource.query(
        'SELECT credits, source, credit_seconds FROM lease_draws WHERE pool_id = $1 ORDER BY opened_at',
        [pool.poolId],
      );
      expect(draws.map((d) => [d.credits, d.source, Number(d.credit_seconds)])).toEqual([
        [2, 'imported', 2 * 3600],
        [2, 'imported', 2 * 7200],
      ]);
    });

    it('charges a draw shared by a work unit once, to that work unit, in the ledger', async () => {
      const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'tool', cost: 3, shareScope: 'WORK_UNIT' }] });
      const unit = await t.gql<{ upsertWorkUnit: { id: string } }>(
        adminKey,
        'mutation($ref: String!) { upsertWorkUnit(input: { externalRef: $ref, process: "quote" }) { id } }',
        { ref: `run-${pool.poolId}` },
      );
      const workUnitId = unit.data!.upsertWorkUnit.id;
      const result = await importHistory(pool, {
        leases: [
          { appId: pool.apps.tool, principalId: ann, acquiredAt: at(1), endedAt: at(2), workUnitId },
          { appId: pool.apps.tool, principalId: bob, acquiredAt: at(1, 30), endedAt: at(3), workUnitId },
        ],
      });
      // One draw of 3 credits from 1:00 to 3:00: 6 credit-hours, charged once.
      expect(result.draws).toBe(1);
      const charged = await t.gql<{ workUnit: { licenseCreditHours: number } }>(viewerKey, 'query($id: ID!) { workUnit(id: $id) { licenseCreditHours } }', {
        id: workUnitId,
      });
      expect(charged.data?.workUnit.licenseCreditHours).toBeCloseTo(6, 6);
      const missing = importHistory(pool, {
        leases: [{ appId: pool.apps.tool, principalId: ann, acquiredAt: at(5), endedAt: at(6), workUnitId: pool.poolId }],
      });
      await expect(missing).rejects.toMatchObject({ code: 'NOT_FOUND', extensions: { field: 'leases[0].workUnitId' } });
    });

    it('refuses rows that live traffic could not have made', async () => {
      const pool = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'cad', cost: 2 }] });
      const other = await createPool(t, adminKey, { cap: 10, apps: [{ key: 'elsewhere', cost: 2 }] });
      const lease = { appId: pool.apps.cad, principalId: ann, acquiredAt: at(1), endedAt: at(2) };
      const refused = (input: Omit<HistoryImportInput, 'organizationId' | 'poolId'>) => importHistory(pool, input);
      await expect(refused({ leases: [{ ...lease, appId: other.apps.elsewhere }] })).rejects.toMatchObject({
        code: 'NOT_FOUND',
        extensions: { field: 'leases[0].appId' },
      });
      await expect(refused({ leases: [lease, { ...lease, endedAt: new Date(Date.now() + HOUR) }] })).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
        extensions: { field: 'leases[1].endedAt' },
      });
      await expect(refused({ leases: [{ ...lease, endedAt: lease.acquiredAt }] })).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
        extensions: { field: 'leases[0].endedAt' },
      });
      await expect(refused({ leases: [{ ...lease, idle: [{ startedAt: at(0), endedAt: at(1, 30) }] }] })).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
        extensions: { field: 'leases[0].idle[0]' },
      });
      await expect(refused({ denials: [{ appId: pool.apps.cad, principalId: ann, at: at(1), reason: 'NOPE' as 'POOL_EXHAUSTED' }] })).rejects.toMatchObject({
        extensions: { field: 'denials[0].reason' },
      });
      await expect(refused({ capChanges: [{ at: new Date(), cap: 5 }] })).rejects.toMatchObject({ extensions: { field: 'capChanges[0].at' } });
      const written: { n: number }[] = await dataSource.query('SELECT count(*)::int AS n FROM leases WHERE pool_id = $1', [pool.poolId]);
      expect(written[0].n).toBe(0);
    });
  });
});
