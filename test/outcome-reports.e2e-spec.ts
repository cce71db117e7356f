import { randomUUID } from 'node:crypto';
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
const PER_OUTCOME = 'query($from: DateTime!, $to: DateTime!) { costPerOutcome(from: $from, to: $to) { process workUnits acceptedWorkUnits totalCost costPerAcceptedOutcome } }';

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
  async function usage(key: string, event: { workUnitId?: string; cost?: number; inputTokens?: number; outputTokens?: number; occurredAt: Date; model?: string }): Promise<void> {
    const { occurredAt, ...rest } = event;
    const res = await ok<{ recordComputeUsage: { accepted: number } }>(key, RECORD, {
      events: [{ eventId: randomUUID(), provider: 'test', model: 'm-1', inputTokens: 0, outputTokens: 0, ...rest, occurredAt: occurredAt.toISOString() }],
    });
    if (res.recordComputeUsage.accepted !== 1) throw new Error(`compute event not accepted: ${JSON.stringify(res)}`);
  }

  const window = (from = FROM, to = TO) => ({ from: from.toISOString(), to: to.toISOString() });
  const burn = (key: string, from?: Date, to?: Date) => ok<{ burnReport: BurnShape }>(key, BURN, window(from, to)).then((d) => d.burnReport);
  const coverage = (key: string, from?: Date, to?: Date) => ok<{ attributionCoverage: CoverageShape }>(key, COVERAGE, window(from, to)).then((d) => d.attributionCoverage);
  const perOutcome = (key: string, from?: Date, to?: Date) => ok<{ costPerOutcome: Record<string, unknown>[] }>(key, PER_OUTCOME, window(from, to)).then((d) => d.costPerOutcome);

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
      await ok(a.adminKey, PRICE, { input: { provider: 'test', model: 'm-unpriced', inputPerMillion: 2, outputPerMillion: 4, effectiveFrom: at(0).toISOString() } });
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
      expect(await perOutcome(org.viewerKey, FROM, accepted)).toEqual([{ process: 'review', workUnits: 1, acceptedWorkUnits: 1, totalCost: 40, costPerAcceptedOutcome: 40 }]);
    });

    it('reads PENDING before the first outcome was recorded', async () => {
      expect(await burn(org.viewerKey, FROM, beforeAccepted)).toMatchObject({ goingConcernShare: 1, outcomeLinkedShare: 0, maturity: 'OPERATIONAL_BURN' });
      expect(await coverage(org.viewerKey, FROM, beforeAccepted)).toEqual({ totalCost: 40, attributedCost: 0, coverage: 0 });
      expect(await perOutcome(org.viewerKey, FROM, beforeAccepted)).toEqual([{ process: 'review', workUnits: 1, acceptedWorkUnits: 0, totalCost: 40, costPerAcceptedOutcome: null }]);
    });

    it('reads the rejection once `to` is after it: attributed, but no accepted outcome', async () => {
      const later = new Date(Date.now() + HOUR);
      expect(await burn(org.viewerKey, FROM, later)).toMatchObject({ outcomeLinkedShare: 0, maturity: 'OPERATIONAL_BURN' });
      expect(await coverage(org.viewerKey, FROM, later)).toEqual({ totalCost: 40, attributedCost: 40, coverage: 1 });
      expect(await perOutcome(org.viewerKey, FROM, later)).toEqual([{ process: 'review', workUnits: 1, acceptedWorkUnits: 0, totalCost: 40, costPerAcceptedOutcome: null }]);
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
