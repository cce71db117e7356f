import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { HistoryImportService } from '../src/history/history-import.service';
import { codeOf, TestApp } from './support/app';
import { createPool } from './support/catalog';

const HOUR = 3_600_000;
const DAY = 86_400_000;
// A UTC midnight ten days ago: every history below lies in the past.
const T0 = Math.floor(Date.now() / DAY) * DAY - 10 * DAY;
const at = (hours: number) => new Date(T0 + hours * HOUR);
const FROM = at(0);
// Outcomes are recorded through the API, stamped now, and read as of `to`: windows that should
// see them end tomorrow.
const TO = new Date(Date.now() + DAY);

const UPSERT = 'mutation($input: WorkUnitInput!) { upsertWorkUnit(input: $input) { id } }';
const OUTCOME = 'mutation($input: OutcomeInput!) { recordOutcome(input: $input) { id } }';
const RECORD = 'mutation($events: [ComputeUsageInput!]!) { recordComputeUsage(events: $events) { accepted } }';
const PRICE = 'mutation($input: ModelPriceInput!) { setModelPrice(input: $input) }';
const GROUP = 'key computeCost licenseCost totalCost workUnits acceptedWorkUnits';
const BURN = `query($from: DateTime!, $to: DateTime!) { burnReport(from: $from, to: $to) {
  from to goingConcernShare outcomeLinkedShare maturity
  slices { orgUnitKind computeTokens computeCost licenseCreditHours licenseCost workUnits acceptedWorkUnits }
  byTeam { ${GROUP} } byProcess { ${GROUP} } } }`;
const COVERAGE = 'query($from: DateTime!, $to: DateTime!) { attributionCoverage(from: $from, to: $to) { totalCost attributedCost coverage } }';
const PER_OUTCOME =
  'query($from: DateTime!, $to: DateTime!) { costPerOutcome(from: $from, to: $to) { process workUnits acceptedWorkUnits totalCost costPerAcceptedOutcome } }';

interface BurnShape {
  from: string;
  to: string;
  goingConcernShare: number;
  outcomeLinkedShare: number;
  maturity: string;
  slices: Record<string, unknown>[];
  byTeam: Record<string, unknown>[];
  byProcess: Record<string, unknown>[];
}
interface CoverageShape {
  totalCost: number;
  attributedCost: number;
  coverage: number;
}

/** One tenant with a CLIENT that writes through the API and a VIEWER that reads the reports. */
interface Tenant {
  organizationId: string;
  adminKey: string;
  client: { key: string; principalId: string };
  changeClient: { key: string; principalId: string };
  viewerKey: string;
}

describe('outcome reports: burn location, attribution coverage, cost per outcome', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await TestApp.start();
  });

  afterAll(async () => {
    await t.close();
  });

  async function tenant(label: string): Promise<Tenant> {
    const { organizationId, adminKey } = await t.organization(label);
    const client = await t.principalWithKey(adminKey, 'CLIENT', { name: 'plant-agent', kind: 'AGENT', orgUnitKind: 'GOING_CONCERN' });
    const changeClient = await t.principalWithKey(adminKey, 'CLIENT', { name: 'lab-agent', kind: 'AGENT', orgUnitKind: 'CHANGE' });
    const viewerKey = (await t.principalWithKey(adminKey, 'VIEWER', { name: 'finance' })).key;
    return { organizationId, adminKey, client, changeClient, viewerKey };
  }

  async function ok<T>(key: string, query: string, variables: Record<string, unknown>): Promise<T> {
    const res = await t.gql<T>(key, query, variables);
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    return res.data;
  }

  async function workUnit(key: string, input: Record<string, unknown>): Promise<string> {
    return (await ok<{ upsertWorkUnit: { id: string } }>(key, UPSERT, { input: { externalRef: `wu-${randomUUID()}`, ...input } })).upsertWorkUnit.id;
  }

  async function outcome(key: string, workUnitId: string, status: string, valueAmount?: number): Promise<void> {
    await ok(key, OUTCOME, { input: { workUnitId, outcome: status, valueAmount, valueDimension: valueAmount === undefined ? undefined : 'MARGIN' } });
  }

  /** One compute event; `cost` omitted leaves it to the price table (unpriced when there is none). */
  async function usage(
    key: string,
    event: { workUnitId?: string; cost?: number; inputTokens?: number; outputTokens?: number; occurredAt: Date; model?: string },
  ): Promise<void> {
    const { occurredAt, ...rest } = event;
    const res = await ok<{ recordComputeUsage: { accepted: number } }>(key, RECORD, {
      events: [{ eventId: randomUUID(), provider: 'test', model: 'm-1', inputTokens: 0, outputTokens: 0, ...rest, occurredAt: occurredAt.toISOString() }],
    });
    if (res.recordComputeUsage.accepted !== 1) throw new Error(`compute event not accepted: ${JSON.stringify(res)}`);
  }

  const window = (from = FROM, to = TO) => ({ from: from.toISOString(), to: to.toISOString() });
  const burn = (key: string, from?: Date, to?: Date) => ok<{ burnReport: BurnShape }>(key, BURN, window(from, to)).then((d) => d.burnReport);
  const coverage = (key: string, from?: Date, to?: Date) =>
    ok<{ attributionCoverage: CoverageShape }>(key, COVERAGE, window(from, to)).then((d) => d.attributionCoverage);
  const perOutcome = (key: string, from?: Date, to?: Date) =>
    ok<{ costPerOutcome: Record<string, unknown>[] }>(key, PER_OUTCOME, window(from, to)).then((d) => d.costPerOutcome);

  describe('a history with every kind of row', () => {
    let a: Tenant;

    /**
     * Window [T0, tomorrow), organization A:
     *   lab (CHANGE, team lab, process pilot, owner ana, REJECTED): compute 1000+200 tokens, cost 10 at T0 exactly
     *   q1  (GOING_CONCERN, plant, quote, owner bo, ACCEPTED value 100): compute 500+100, cost 30;
     *       license: 2 credits for 2 h = 4 credit-hours at 1.5 = 6
     *   q2  (GOING_CONCERN, plant, quote, no owner, ACCEPTED no value): 1,000,000+500,000 tokens
     *       unpriced, then priced by a back-dated price (2 and 4 per million): a CORRECTION of 2 + 2 = 4
     *   q3  (GOING_CONCERN, plant, quote, owner cy, never an outcome): 50+50 tokens, cost 8
     *   no work unit, GOING_CONCERN principal: 100+0 tokens, cost 5
     *   no work unit, CHANGE principal: 10+10 tokens, cost 2 at T0+6h
     *   outside the window: cost 1000 just before `from`
     * Organization B spends 999 in the same window.
     * CHANGE: tokens 1220, compute 12; GOING_CONCERN: tokens 1,500,800, compute 30+4+8+5 = 47,
     * 4 credit-hours, license 6. Total 65, going concern 53, outcome-linked (q1) 36.
     */
    beforeAll(async () => {
      a = await tenant('burn-a');
      const c = a.client.key;
      const lab = await workUnit(c, { orgUnitKind: 'CHANGE', team: 'lab', process: 'pilot', owner: 'ana' });
      const q1 = await workUnit(c, { orgUnitKind: 'GOING_CONCERN', team: 'plant', process: 'quote', owner: 'bo' });
      const q2 = await workUnit(c, { orgUnitKind: 'GOING_CONCERN', team: 'plant', process: 'quote' });
      const q3 = await workUnit(c, { orgUnitKind: 'GOING_CONCERN', team: 'plant', process: 'quote', owner: 'cy' });
      await usage(c, { workUnitId: lab, inputTokens: 1000, outputTokens: 200, cost: 10, occurredAt: FROM });
      await usage(c, { workUnitId: q1, inputTokens: 500, outputTokens: 100, cost: 30, occurredAt: at(2) });
      await usage(c, { workUnitId: q2, inputTokens: 1_000_000, outputTokens: 500_000, model: 'm-unpriced', occurredAt: at(3) });
      await usage(c, { workUnitId: q3, inputTokens: 50, outputTokens: 50, cost: 8, occurredAt: at(4) });
      await usage(c, { inputTokens: 100, cost: 5, occurredAt: at(5) });
      await usage(a.changeClient.key, { inputTokens: 10, outputTokens: 10, cost: 2, occurredAt: at(6) });
      await usage(c, { workUnitId: q1, inputTokens: 7, cost: 1000, occurredAt: new Date(FROM.getTime() - 1) });
      await ok(a.adminKey, PRICE, {
        input: { provider: 'test', model: 'm-unpriced', inputPerMillion: 2, outputPerMillion: 4, effectiveFrom: at(0).toISOString() },
      });
      const pool = await createPool(t, a.adminKey, { cap: 10, apps: [{ key: 'solver', cost: 2 }] });
      await t.app.get(HistoryImportService).import({
        organizationId: a.organizationId,
        poolId: pool.poolId,
        leases: [{ appId: pool.apps.solver, principalId: a.client.principalId, acquiredAt: at(10), endedAt: at(12), workUnitId: q1 }],
      });
      await outcome(c, lab, 'REJECTED');
      await outcome(c, q1, 'ACCEPTED', 100);
      await outcome(c, q2, 'ACCEPTED');

      const b = await tenant('burn-b');
      const bUnit = await workUnit(b.client.key, { orgUnitKind: 'CHANGE', team: 'plant', process: 'quote', owner: 'bo' });
      await usage(b.client.key, { workUnitId: bUnit, inputTokens: 1, cost: 999, occurredAt: at(2) });
      await outcome(b.client.key, bUnit, 'ACCEPTED', 1);
    });

    it('splits consumption and cost between the change organisation and the going concern', async () => {
      const report = await burn(a.viewerKey);
      expect(report.from).toBe(FROM.toISOString());
      expect(report.to).toBe(TO.toISOString());
      expect(report.slices).toEqual([
        { orgUnitKind: 'CHANGE', computeTokens: 1220, computeCost: 12, licenseCreditHours: 0, licenseCost: 0, workUnits: 1, acceptedWorkUnits: 0 },
        { orgUnitKind: 'GOING_CONCERN', computeTokens: 1_500_800, computeCost: 47, licenseCreditHours: 4, licenseCost: 6, workUnits: 3, acceptedWorkUnits: 2 },
      ]);
      expect(report.goingConcernShare).toBeCloseTo(53 / 65, 12);
      expect(report.outcomeLinkedShare).toBeCloseTo(36 / 53, 12);
      expect(report.maturity).toBe('PRODUCTIVE_BURN');
    });

    it('breaks the cost down by team and by process, usage on no work unit under ""', async () => {
      const report = await burn(a.viewerKey);
      expect(report.byTeam).toEqual([
        { key: 'plant', computeCost: 42, licenseCost: 6, totalCost: 48, workUnits: 3, acceptedWorkUnits: 2 },
        { key: 'lab', computeCost: 10, licenseCost: 0, totalCost: 10, workUnits: 1, acceptedWorkUnits: 0 },
        { key: '', computeCost: 7, licenseCost: 0, totalCost: 7, workUnits: 0, acceptedWorkUnits: 0 },
      ]);
      expect(report.byProcess).toEqual([
        { key: 'quote', computeCost: 42, licenseCost: 6, totalCost: 48, workUnits: 3, acceptedWorkUnits: 2 },
        { key: 'pilot', computeCost: 10, licenseCost: 0, totalCost: 10, workUnits: 1, acceptedWorkUnits: 0 },
        { key: '', computeCost: 7, licenseCost: 0, totalCost: 7, workUnits: 0, acceptedWorkUnits: 0 },
      ]);
    });

    it('counts rows from `from` inclusive to `to` exclusive, corrections by their original date', async () => {
      // [T0, T0+6h): lab 10, q1 30, q2's correction 4, q3 8, 5 on no work unit; the 2 at T0+6h
      // and the license row (dated by its draw's end, T0+12h) are out. Every outcome came later.
      expect(await coverage(a.viewerKey, FROM, at(6))).toEqual({ totalCost: 57, attributedCost: 0, coverage: 0 });
      expect(await perOutcome(a.viewerKey, FROM, at(6))).toEqual([
        { process: 'quote', workUnits: 3, acceptedWorkUnits: 0, totalCost: 42, costPerAcceptedOutcome: null },
        { process: 'pilot', workUnits: 1, acceptedWorkUnits: 0, totalCost: 10, costPerAcceptedOutcome: null },
        { process: '', workUnits: 0, acceptedWorkUnits: 0, totalCost: 5, costPerAcceptedOutcome: null },
      ]);
    });

    it('counts as attributed only cost on work units with an owner and an outcome other than PENDING', async () => {
      // lab (ana, REJECTED) 10 + q1 (bo, ACCEPTED) 36; q2 has no owner, q3 no outcome; 7 on no work unit.
      const result = await coverage(a.viewerKey);
      expect(result.totalCost).toBe(65);
      expect(result.attributedCost).toBe(46);
      expect(result.coverage).toBeCloseTo(46 / 65, 12);
    });

    it('answers cost per accepted outcome per process, null where none was accepted', async () => {
      expect(await perOutcome(a.viewerKey)).toEqual([
        { process: 'quote', workUnits: 3, acceptedWorkUnits: 2, totalCost: 48, costPerAcceptedOutcome: 24 },
        { process: 'pilot', workUnits: 1, acceptedWorkUnits: 0, totalCost: 10, costPerAcceptedOutcome: null },
        { process: '', workUnits: 0, acceptedWorkUnits: 0, totalCost: 7, costPerAcceptedOutcome: null },
      ]);
    });

    it("never shows another organization's cost, and shows that organization only its own", async () => {
      const other = await tenant('burn-c');
      const empty = await burn(other.viewerKey);
      expect(empty.slices.map((s) => s.computeCost)).toEqual([0, 0]);
      expect(await coverage(other.viewerKey)).toEqual({ totalCost: 0, attributedCost: 0, coverage: 0 });
      // B's 999 was spent in A's window on a process and team named like A's: A's totals above exclude it.
      expect((await coverage(a.viewerKey)).totalCost).toBe(65);
      const bKey = (await t.principalWithKey((await t.organization('burn-d')).adminKey, 'VIEWER')).key;
      expect(await perOutcome(bKey)).toEqual([]);
    });

    it('is open to ADMIN and VIEWER keys only', async () => {
      expect((await t.gql(a.adminKey, COVERAGE, window())).data).toEqual({ attributionCoverage: { totalCost: 65, attributedCost: 46, coverage: 46 / 65 } });
      for (const query of [BURN, COVERAGE, PER_OUTCOME]) {
        expect(codeOf(await t.gql(a.client.key, query, window()))).toBe('FORBIDDEN');
        expect(codeOf(await t.gql(null, query, window()))).toBe('UNAUTHENTICATED');
      }
    });
  });

  describe('whole days from the daily rollup, partial days from raw rows', () => {
    // TODAY is this UTC midnight; D(n) is n days after D1, three days ago.
    const TODAY = new Date(Math.floor(Date.now() / DAY) * DAY);
    const D1 = new Date(TODAY.getTime() - 3 * DAY);
    const d = (day: number, hours = 0) => new Date(D1.getTime() + (day - 1) * DAY + hours * HOUR);
    const WINDOW_FROM = d(1, 6);
    let r: Tenant;
    let windowTo: Date;

    /**
     * Organization R, window [D1 06:00, now + 1 min): rollup days D2 and D3, raw edges
     * [D1 06:00, D2) and [today, now + 1 min).
     *   u1 (GOING_CONCERN, ops, claims, owner ana, ACCEPTED value 100):
     *     D1 05:00 cost 1000 (before the window), D1 06:00 cost 1 (10 tokens), D1 23:59:59.999 cost 2 (20 tokens),
     *     D1 07:00 2,000,000 tokens unpriced, D3 12:00 1,000,000 tokens unpriced: a back-dated price of 3 per million
     *     adds CORRECTIONs of 6 (raw edge) and 3 (rolled day); then an imported lease D2 10:00-12:00 of 2 credits
     *     at 1.5 per credit-hour: 4 credit-hours, 6 (a rolled day, written after the day's other rows).
     *   u2 (CHANGE, lab, pilot, owner bo, REJECTED): D2 00:00 cost 4 (40 tokens), today 00:00 cost 32 (320 tokens).
     *   u3 (GOING_CONCERN, ops, claims, no owner, no outcome): D2 14:00 cost 128 (1,280 tokens), D3 09:00 cost 256
     *     (2,560 tokens): all its days are whole days of the window (read from its all-time sums).
     *   no work unit: the CHANGE principal D3 13:00 cost 16 (160 tokens); the GOING_CONCERN principal D2 08:00
     *     cost 64 (640 tokens), reported last.
     * Organization S spends 500 on D1 07:00, D2 and today on a work unit of the same team and process.
     * In the window: u1 12 compute + 6 license = 18, u2 36, u3 384, no work unit 80 (CHANGE 16, GOING_CONCERN 64).
     * CHANGE: 520 tokens, cost 52; GOING_CONCERN: 3,004,510 tokens, compute 460, license 6. Total 518.
     */
    beforeAll(async () => {
      r = await tenant('rollup-r');
      const c = r.client.key;
      const u1 = await workUnit(c, { orgUnitKind: 'GOING_CONCERN', team: 'ops', process: 'claims', owner: 'ana' });
      const u2 = await workUnit(c, { orgUnitKind: 'CHANGE', team: 'lab', process: 'pilot', owner: 'bo' });
      const u3 = await workUnit(c, { orgUnitKind: 'GOING_CONCERN', team: 'ops', process: 'claims' });
      await usage(c, { workUnitId: u3, inputTokens: 1280, cost: 128, occurredAt: d(2, 14) });
      await usage(c, { workUnitId: u3, inputTokens: 2560, cost: 256, occurredAt: d(3, 9) });
      await usage(c, { workUnitId: u1, inputTokens: 7, cost: 1000, occurredAt: d(1, 5) });
      await usage(c, { workUnitId: u1, inputTokens: 10, cost: 1, occurredAt: d(1, 6) });
      await usage(c, { workUnitId: u1, inputTokens: 20, cost: 2, occurredAt: new Date(d(2).getTime() - 1) });
      await usage(c, { workUnitId: u1, inputTokens: 2_000_000, model: 'm-late', occurredAt: d(1, 7) });
      await usage(c, { workUnitId: u1, inputTokens: 1_000_000, model: 'm-late', occurredAt: d(3, 12) });
      await usage(c, { workUnitId: u2, inputTokens: 40, cost: 4, occurredAt: d(2) });
      await usage(c, { workUnitId: u2, inputTokens: 320, cost: 32, occurredAt: TODAY });
      await usage(r.changeClient.key, { inputTokens: 160, cost: 16, occurredAt: d(3, 13) });
      await ok(r.adminKey, PRICE, { input: { provider: 'test', model: 'm-late', inputPerMillion: 3, outputPerMillion: 3, effectiveFrom: d(1).toISOString() } });
      const pool = await createPool(t, r.adminKey, { cap: 10, apps: [{ key: 'solver', cost: 2 }] });
      await t.app.get(HistoryImportService).import({
        organizationId: r.organizationId,
        poolId: pool.poolId,
        leases: [{ appId: pool.apps.solver, principalId: r.client.principalId, acquiredAt: d(2, 10), endedAt: d(2, 12), workUnitId: u1 }],
      });
      await usage(c, { inputTokens: 640, cost: 64, occurredAt: d(2, 8) });
      await outcome(c, u1, 'ACCEPTED', 100);
      await outcome(c, u2, 'REJECTED');

      const s = await tenant('rollup-s');
      const sUnit = await workUnit(s.client.key, { orgUnitKind: 'GOING_CONCERN', team: 'ops', process: 'claims', owner: 'ana' });
      for (const occurredAt of [d(1, 7), d(2, 9), TODAY]) await usage(s.client.key, { workUnitId: sUnit, inputTokens: 5, cost: 500, occurredAt });
      await outcome(s.client.key, sUnit, 'ACCEPTED', 1);
      windowTo = new Date(Date.now() + 60_000);
    });

    it('adds the raw edges to the rolled days: burn split, teams and maturity', async () => {
      const report = await burn(r.viewerKey, WINDOW_FROM, windowTo);
      expect(report.slices).toEqual([
        { orgUnitKind: 'CHANGE', computeTokens: 520, computeCost: 52, licenseCreditHours: 0, licenseCost: 0, workUnits: 1, acceptedWorkUnits: 0 },
        { orgUnitKind: 'GOING_CONCERN', computeTokens: 3_004_510, computeCost: 460, licenseCreditHours: 4, licenseCost: 6, workUnits: 2, acceptedWorkUnits: 1 },
      ]);
      expect(report.byTeam).toEqual([
        { key: 'ops', computeCost: 396, licenseCost: 6, totalCost: 402, workUnits: 2, acceptedWorkUnits: 1 },
        { key: '', computeCost: 80, licenseCost: 0, totalCost: 80, workUnits: 0, acceptedWorkUnits: 0 },
        { key: 'lab', computeCost: 36, licenseCost: 0, totalCost: 36, workUnits: 1, acceptedWorkUnits: 0 },
      ]);
      expect(report.goingConcernShare).toBeCloseTo(466 / 518, 12);
      expect(report.outcomeLinkedShare).toBeCloseTo(18 / 466, 12);
      expect(report.maturity).toBe('OPERATIONAL_BURN');
    });

    it('agrees on coverage and cost per outcome over the same window', async () => {
      const result = await coverage(r.viewerKey, WINDOW_FROM, windowTo);
      expect([result.totalCost, result.attributedCost]).toEqual([518, 54]);
      expect(result.coverage).toBeCloseTo(54 / 518, 12);
      expect(await perOutcome(r.viewerKey, WINDOW_FROM, windowTo)).toEqual([
        { process: 'claims', workUnits: 2, acceptedWorkUnits: 1, totalCost: 402, costPerAcceptedOutcome: 402 },
        { process: '', workUnits: 0, acceptedWorkUnits: 0, totalCost: 80, costPerAcceptedOutcome: null },
        { process: 'pilot', workUnits: 1, acceptedWorkUnits: 0, totalCost: 36, costPerAcceptedOutcome: null },
      ]);
    });

    it('reads a window of whole days from the rollup alone, outcomes recorded after it as PENDING', async () => {
      // [D1, today): everything above but today's 32, plus the 1000 at D1 05:00. Both outcomes came later.
      expect(await coverage(r.viewerKey, d(1), TODAY)).toEqual({ totalCost: 1486, attributedCost: 0, coverage: 0 });
      expect(await perOutcome(r.viewerKey, d(1), TODAY)).toEqual([
        { process: 'claims', workUnits: 2, acceptedWorkUnits: 0, totalCost: 1402, costPerAcceptedOutcome: null },
        { process: '', workUnits: 0, acceptedWorkUnits: 0, totalCost: 80, costPerAcceptedOutcome: null },
        { process: 'pilot', workUnits: 1, acceptedWorkUnits: 0, totalCost: 4, costPerAcceptedOutcome: null },
      ]);
    });

    it('reads a window holding no whole day from raw rows alone', async () => {
      // D3 12:00 to 13:00: only the correction of 3 (its unpriced row adds tokens, no cost); 16 at 13:00 is out.
      expect(await coverage(r.viewerKey, d(3, 12), d(3, 13))).toEqual({ totalCost: 3, attributedCost: 0, coverage: 0 });
      // D1 23:00 to D2 01:00 crosses a midnight: 2 before it, 4 at it.
      expect(await coverage(r.viewerKey, d(1, 23), d(2, 1))).toEqual({ totalCost: 6, attributedCost: 0, coverage: 0 });
      const report = await burn(r.viewerKey, d(3, 12), d(3, 13));
      expect(report.slices[1]).toEqual({
        orgUnitKind: 'GOING_CONCERN',
        computeTokens: 1_000_000,
        computeCost: 3,
        licenseCreditHours: 0,
        licenseCost: 0,
        workUnits: 1,
        acceptedWorkUnits: 0,
      });
    });

    it('keeps the daily rollup equal to the sums of the ledger rows, for every organization and day', async () => {
      // One statement, so one snapshot: rows other suites insert meanwhile are on both sides or on neither.
      const [diff]: { differing: number; keys: number; ours: number }[] = await t.app.get(DataSource).query(
        `WITH fresh AS (
           SELECT organization_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, work_unit_id, CASE WHEN work_unit_id IS NULL THEN principal_id END AS principal_id,
                  coalesce(sum(input_tokens + output_tokens) FILTER (WHERE kind = 'COMPUTE'), 0) AS compute_tokens,
                  coalesce(sum(cost) FILTER (WHERE meter = 'COMPUTE'), 0) AS compute_cost,
                  coalesce(sum(credit_seconds) FILTER (WHERE kind = 'LICENSE'), 0) AS license_credit_seconds,
                  coalesce(sum(cost) FILTER (WHERE meter = 'LICENSE'), 0) AS license_cost,
                  count(*) AS entries
           FROM ledger_entries GROUP BY 1, 2, 3, 4)
         SELECT count(*) FILTER (WHERE f.organization_id IS NULL OR k.organization_id IS NULL OR f.compute_tokens <> k.compute_tokens
                                   OR f.compute_cost <> k.compute_cost OR f.license_credit_seconds <> k.license_credit_seconds
                                   OR f.license_cost <> k.license_cost OR f.entries <> k.entries)::int AS differing,
                count(*)::int AS keys,
                count(*) FILTER (WHERE coalesce(f.organization_id, k.organization_id) = $1)::int AS ours
         FROM fresh f
         FULL JOIN ledger_daily_usage k
           ON k.organization_id = f.organization_id AND k.day = f.day
          AND coalesce(k.work_unit_id, $2::uuid) = coalesce(f.work_unit_id, $2::uuid) AND coalesce(k.principal_id, $2::uuid) = coalesce(f.principal_id, $2::uuid)`,
        [r.organizationId, '00000000-0000-0000-0000-000000000000'],
      );
      expect(diff.differing).toBe(0);
      expect(diff.keys).toBeGreaterThan(diff.ours);
      // u1 on D1, D2 and D3; u2 on D2 and today; u3 on D2 and D3; each principal's rows on no work unit on one day.
      expect(diff.ours).toBe(9);
    });

    it("keeps each work unit's first and last day, beside its totals, equal to its ledger rows", async () => {
      const [diff]: { differing: number; ours: number }[] = await t.app.get(DataSource).query(
        `WITH fresh AS (
           SELECT work_unit_id, min((occurred_at AT TIME ZONE 'UTC')::date) AS first_day, max((occurred_at AT TIME ZONE 'UTC')::date) AS last_day,
                  coalesce(sum(input_tokens + output_tokens) FILTER (WHERE kind = 'COMPUTE'), 0) AS compute_tokens,
                  coalesce(sum(cost) FILTER (WHERE meter = 'COMPUTE'), 0) AS compute_cost,
                  coalesce(sum(credit_seconds) FILTER (WHERE kind = 'LICENSE'), 0) AS license_credit_seconds,
                  coalesce(sum(cost) FILTER (WHERE meter = 'LICENSE'), 0) AS license_cost
           FROM ledger_entries WHERE work_unit_id IS NOT NULL GROUP BY 1)
         SELECT count(*) FILTER (WHERE f.work_unit_id IS NULL OR k.work_unit_id IS NULL OR f.first_day <> k.first_day OR f.last_day <> k.last_day
                                   OR f.compute_tokens <> k.compute_input_tokens + k.compute_output_tokens OR f.compute_cost <> k.compute_cost
                                   OR f.license_credit_seconds <> k.license_credit_seconds OR f.license_cost <> k.license_cost)::int AS differing,
                count(*) FILTER (WHERE k.organization_id = $1)::int AS ours
         FROM fresh f
         FULL JOIN work_unit_totals k ON k.work_unit_id = f.work_unit_id`,
        [r.organizationId],
      );
      expect(diff.differing).toBe(0);
      expect(diff.ours).toBe(3);
    });
  });

  describe('maturity at each threshold (50% by default)', () => {
    /** change: CHANGE cost; linked: GOING_CONCERN cost ACCEPTED with a value; unlinked: ACCEPTED without one. */
    async function maturity(costs: { change: number; linked: number; unlinked: number }): Promise<BurnShape> {
      const org = await tenant('maturity');
      const c = org.client.key;
      const change = await workUnit(c, { orgUnitKind: 'CHANGE' });
      const linked = await workUnit(c, { orgUnitKind: 'GOING_CONCERN' });
      const unlinked = await workUnit(c, { orgUnitKind: 'GOING_CONCERN' });
      await usage(c, { workUnitId: change, cost: costs.change, occurredAt: at(1) });
      await usage(c, { workUnitId: linked, cost: costs.linked, occurredAt: at(2) });
      await usage(c, { workUnitId: unlinked, cost: costs.unlinked, occurredAt: at(3) });
      await outcome(c, linked, 'ACCEPTED', 250);
      await outcome(c, unlinked, 'ACCEPTED');
      return burn(org.viewerKey);
    }

    it('is INNOVATION_BURN with 40% in the going concern, however well linked', async () => {
      const report = await maturity({ change: 60, linked: 40, unlinked: 0 });
      expect([report.goingConcernShare, report.outcomeLinkedShare, report.maturity]).toEqual([0.4, 1, 'INNOVATION_BURN']);
    });

    it('is OPERATIONAL_BURN with exactly 50% in the going concern and 40% of that linked', async () => {
      const report = await maturity({ change: 50, linked: 20, unlinked: 30 });
      expect([report.goingConcernShare, report.outcomeLinkedShare, report.maturity]).toEqual([0.5, 0.4, 'OPERATIONAL_BURN']);
    });

    it('is PRODUCTIVE_BURN with exactly 50% in the going concern and exactly 50% of that linked', async () => {
      const report = await maturity({ change: 40, linked: 20, unlinked: 20 });
      expect([report.goingConcernShare, report.outcomeLinkedShare, report.maturity]).toEqual([0.5, 0.5, 'PRODUCTIVE_BURN']);
    });

    it('answers zero shares, both slices empty and no groups when nothing was spent', async () => {
      const org = await tenant('idle');
      const report = await burn(org.viewerKey);
      expect(report).toMatchObject({ goingConcernShare: 0, outcomeLinkedShare: 0, maturity: 'INNOVATION_BURN', byTeam: [], byProcess: [] });
      expect(report.slices).toEqual([
        { orgUnitKind: 'CHANGE', computeTokens: 0, computeCost: 0, licenseCreditHours: 0, licenseCost: 0, workUnits: 0, acceptedWorkUnits: 0 },
        { orgUnitKind: 'GOING_CONCERN', computeTokens: 0, computeCost: 0, licenseCreditHours: 0, licenseCost: 0, workUnits: 0, acceptedWorkUnits: 0 },
      ]);
    });
  });

  describe('outcomes as of `to`', () => {
    /**
     * One GOING_CONCERN work unit (owner dee, process review) that cost 40 on day 0. Its outcome
     * is PENDING until `beforeAccepted`, ACCEPTED (value 5) at `accepted`, REJECTED after it.
     * The recordOutcome API stamps the server clock, so the instants are taken between calls.
     */
    let org: Tenant;
    let beforeAccepted: Date;
    let accepted: Date;

    beforeAll(async () => {
      org = await tenant('as-of');
      const unit = await workUnit(org.client.key, { orgUnitKind: 'GOING_CONCERN', process: 'review', owner: 'dee' });
      await usage(org.client.key, { workUnitId: unit, cost: 40, occurredAt: at(1) });
      beforeAccepted = new Date();
      await new Promise((r) => setTimeout(r, 20));
      await outcome(org.client.key, unit, 'ACCEPTED', 5);
      await new Promise((r) => setTimeout(r, 20));
      accepted = new Date();
      await new Promise((r) => setTimeout(r, 20));
      await outcome(org.client.key, unit, 'REJECTED');
    });

    it('reads the outcome accepted by `to` even though it was rejected afterwards', async () => {
      expect(await burn(org.viewerKey, FROM, accepted)).toMatchObject({ goingConcernShare: 1, outcomeLinkedShare: 1, maturity: 'PRODUCTIVE_BURN' });
      expect(await coverage(org.viewerKey, FROM, accepted)).toEqual({ totalCost: 40, attributedCost: 40, coverage: 1 });
      expect(await perOutcome(org.viewerKey, FROM, accepted)).toEqual([
        { process: 'review', workUnits: 1, acceptedWorkUnits: 1, totalCost: 40, costPerAcceptedOutcome: 40 },
      ]);
    });

    it('reads PENDING before the first outcome was recorded', async () => {
      expect(await burn(org.viewerKey, FROM, beforeAccepted)).toMatchObject({ goingConcernShare: 1, outcomeLinkedShare: 0, maturity: 'OPERATIONAL_BURN' });
      expect(await coverage(org.viewerKey, FROM, beforeAccepted)).toEqual({ totalCost: 40, attributedCost: 0, coverage: 0 });
      expect(await perOutcome(org.viewerKey, FROM, beforeAccepted)).toEqual([
        { process: 'review', workUnits: 1, acceptedWorkUnits: 0, totalCost: 40, costPerAcceptedOutcome: null },
      ]);
    });

    it('reads the rejection once `to` is after it: attributed, but no accepted outcome', async () => {
      const later = new Date(Date.now() + HOUR);
      expect(await burn(org.viewerKey, FROM, later)).toMatchObject({ outcomeLinkedShare: 0, maturity: 'OPERATIONAL_BURN' });
      expect(await coverage(org.viewerKey, FROM, later)).toEqual({ totalCost: 40, attributedCost: 40, coverage: 1 });
      expect(await perOutcome(org.viewerKey, FROM, later)).toEqual([
        { process: 'review', workUnits: 1, acceptedWorkUnits: 0, totalCost: 40, costPerAcceptedOutcome: null },
      ]);
    });
  });

  describe('windows', () => {
    let viewerKey: string;

    beforeAll(async () => {
      viewerKey = (await tenant('windows')).viewerKey;
    });

    it.each([
      ['an empty window', FROM, FROM],
      ['a window ending before it starts', TO, FROM],
      ['a window of more than 400 days', FROM, new Date(FROM.getTime() + 400 * DAY + 1)],
    ])('refuses %s with BAD_USER_INPUT on `to`', async (_label, from, to) => {
      for (const query of [BURN, COVERAGE, PER_OUTCOME]) {
        const res = await t.gql(viewerKey, query, window(from, to));
        expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'to' });
      }
    });

    it('accepts a window of exactly 400 days', async () => {
      expect(await coverage(viewerKey, FROM, new Date(FROM.getTime() + 400 * DAY))).toEqual({ totalCost: 0, attributedCost: 0, coverage: 0 });
    });
  });
});
