import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { LedgerEntryEntity } from '../src/ledger/ledger-entry.entity';
import { LedgerPartitionsService } from '../src/ledger/ledger-partitions.service';
import { LedgerWriter, LicenseCharge } from '../src/ledger/ledger-writer';
import { OutcomesService } from '../src/work-units/outcomes.service';
import { codeOf, TestApp } from './support/app';

const UPSERT = 'mutation($input: WorkUnitInput!) { upsertWorkUnit(input: $input) { id externalRef owner team process task orgUnitKind outcome } }';
const RECORD = 'mutation($events: [ComputeUsageInput!]!) { recordComputeUsage(events: $events) { accepted duplicates conflicts } }';
const PRICE = 'mutation($input: ModelPriceInput!) { setModelPrice(input: $input) }';
const TOTALS = 'licenseCreditHours computeInputTokens computeOutputTokens licenseCost computeCost totalCost';

interface Totals {
  licenseCreditHours: number;
  computeInputTokens: number;
  computeOutputTokens: number;
  licenseCost: number;
  computeCost: number;
  totalCost: number;
}

describe('usage ledger: work units, outcomes, compute usage, prices', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let org: { organizationId: string; adminKey: string };
  let client: { key: string; principalId: string };
  let viewer: { key: string };

  beforeAll(async () => {
    t = await TestApp.start();
    dataSource = t.app.get(DataSource);
    org = await t.organization('ledger');
    client = await t.principalWithKey(org.adminKey, 'CLIENT', { name: 'agent', kind: 'AGENT', orgUnitKind: 'CHANGE' });
    viewer = await t.principalWithKey(org.adminKey, 'VIEWER');
  });

  afterAll(async () => {
    await t.close();
  });

  async function workUnit(input: Record<string, unknown> = {}): Promise<string> {
    const res = await t.gql<{ upsertWorkUnit: { id: string } }>(client.key, UPSERT, { input: { externalRef: `wu-${randomUUID()}`, ...input } });
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    return res.data.upsertWorkUnit.id;
  }

  function event(overrides: Record<string, unknown> = {}) {
    return {
      eventId: randomUUID(),
      provider: 'openai',
      model: 'gpt-test',
      inputTokens: 1000,
      outputTokens: 200,
      occurredAt: new Date().toISOString(),
      ...overrides,
    };
  }

  async function totalsOf(id: string): Promise<Totals> {
    const res = await t.gql<{ workUnit: Totals }>(viewer.key, `query($id: ID!) { workUnit(id: $id) { ${TOTALS} } }`, { id });
    return res.data!.workUnit;
  }

  /** The same figures summed from the work unit's ledger rows. */
  async function summedRows(id: string): Promise<Totals> {
    const [row]: Record<string, string>[] = await dataSource.query(
      `SELECT coalesce(sum(credit_seconds) FILTER (WHERE meter = 'LICENSE'), 0) / 3600 AS "licenseCreditHours",
              coalesce(sum(input_tokens) FILTER (WHERE meter = 'COMPUTE'), 0) AS "computeInputTokens",
              coalesce(sum(output_tokens) FILTER (WHERE meter = 'COMPUTE'), 0) AS "computeOutputTokens",
              coalesce(sum(cost) FILTER (WHERE meter = 'LICENSE'), 0) AS "licenseCost",
              coalesce(sum(cost) FILTER (WHERE meter = 'COMPUTE'), 0) AS "computeCost",
              coalesce(sum(cost), 0) AS "totalCost"
       FROM ledger_entries WHERE work_unit_id = $1`,
      [id],
    );
    return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)])) as unknown as Totals;
  }

  describe('work units', () => {
    it("creates a work unit with the caller's org unit kind, then changes only the fields given", async () => {
      const externalRef = `claim-${randomUUID()}`;
      const created = await t.gql<{ upsertWorkUnit: Record<string, unknown> }>(client.key, UPSERT, {
        input: { externalRef, owner: 'ana', team: 'claims', process: 'claims-handling' },
      });
      expect(created.data?.upsertWorkUnit).toMatchObject({
        externalRef,
        owner: 'ana',
        team: 'claims',
        process: 'claims-handling',
        task: null,
        orgUnitKind: 'CHANGE',
        outcome: 'PENDING',
      });
      const changed = await t.gql<{ upsertWorkUnit: Record<string, unknown> }>(client.key, UPSERT, {
        input: { externalRef, task: 'triage', orgUnitKind: 'GOING_CONCERN' },
      });
      expect(changed.data?.upsertWorkUnit).toEqual({ ...created.data!.upsertWorkUnit, task: 'triage', orgUnitKind: 'GOING_CONCERN' });
    });

    it('answers null for an unknown id or a malformed one, and lets a VIEWER read but not write', async () => {
      expect((await t.gql(viewer.key, 'query($id: ID!) { workUnit(id: $id) { id } }', { id: randomUUID() })).data).toEqual({ workUnit: null });
      expect((await t.gql(viewer.key, 'query($id: ID!) { workUnit(id: $id) { id } }', { id: 'nope' })).data).toEqual({ workUnit: null });
      expect(codeOf(await t.gql(viewer.key, UPSERT, { input: { externalRef: 'x' } }))).toBe('FORBIDDEN');
      expect(codeOf(await t.gql(viewer.key, RECORD, { events: [event()] }))).toBe('FORBIDDEN');
      expect(codeOf(await t.gql(client.key, PRICE, { input: { provider: 'p', model: 'm', inputPerMillion: 1, outputPerMillion: 1 } }))).toBe('FORBIDDEN');
    });

    it('refuses an empty externalRef with BAD_USER_INPUT naming it', async () => {
      const res = await t.gql(client.key, UPSERT, { input: { externalRef: '  ' } });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.externalRef' });
    });

    it('lists work units newest first, filtered, page by page', async () => {
      const process = `quote-${randomUUID()}`;
      const ids = [await workUnit({ process }), await workUnit({ process }), await workUnit({ process }), await workUnit({ process: 'other' })];
      const page = async (after?: string) =>
        (
          await t.gql<{ workUnits: { id: string }[] }>(
            viewer.key,
            'query($f: WorkUnitFilter, $after: String) { workUnits(filter: $f, first: 2, after: $after) { id } }',
            { f: { process }, after },
          )
        ).data!.workUnits.map((w) => w.id);
      const first = await page();
      expect(first).toEqual([ids[2], ids[1]]);
      expect(await page(first[1])).toEqual([ids[0]]);
      const accepted = await t.gql<{ workUnits: unknown[] }>(viewer.key, 'query($f: WorkUnitFilter) { workUnits(filter: $f) { id } }', {
        f: { process, outcome: 'ACCEPTED' },
      });
      expect(accepted.data?.workUnits).toEqual([]);
    });
  });

  describe('outcomes', () => {
    it('dates racing outcomes of one work unit in the order they became current', async () => {
      const id = await workUnit();
      const outcomes = ['ACCEPTED', 'REJECTED'];
      await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          t.gql(client.key, 'mutation($input: OutcomeInput!) { recordOutcome(input: $input) { id } }', { input: { workUnitId: id, outcome: outcomes[i % 2] } }),
        ),
      );
      const dataSource = t.app.get(DataSource);
      // Records in the order they were written (the row lock serializes them): their times must rise with it.
      const history: { recorded_at: Date; outcome: string }[] = await dataSource.query(
        'SELECT recorded_at, outcome FROM work_unit_outcomes WHERE work_unit_id = $1 ORDER BY id',
        [id],
      );
      expect(history).toHaveLength(16);
      for (let i = 1; i < history.length; i++) expect(history[i].recorded_at.getTime()).toBeGreaterThanOrEqual(history[i - 1].recorded_at.getTime());
      const [current]: { outcome: string; outcome_recorded_at: Date }[] = await dataSource.query(
        'SELECT outcome, outcome_recorded_at FROM work_units WHERE id = $1',
        [id],
      );
      expect(current).toEqual({ outcome: history[15].outcome, outcome_recorded_at: history[15].recorded_at });
      expect((await t.app.get(OutcomesService).outcomesAsOf(org.organizationId, new Date())).get(id)?.outcome).toBe(current.outcome);
    });

    it('keeps every outcome with when, by whom, before and after, and reads the outcome as of a date', async () => {
      const id = await workUnit();
      const first = await t.gql<{ recordOutcome: { outcome: string } }>(
        client.key,
        'mutation($input: OutcomeInput!) { recordOutcome(input: $input) { outcome } }',
        {
          input: { workUnitId: id, outcome: 'REJECTED', qualityResult: 'missing drawing', humanReviewed: true },
        },
      );
      expect(first.data?.recordOutcome.outcome).toBe('REJECTED');
      const between = new Date();
      await new Promise((r) => setTimeout(r, 20));
      await t.gql(client.key, 'mutation($input: OutcomeInput!) { recordOutcome(input: $input) { id } }', {
        input: { workUnitId: id, outcome: 'ACCEPTED', valueDimension: 'CYCLE_TIME', valueAmount: 1250.5, evidenceConfidence: 0.8 },
      });
      const read = await t.gql<{
        workUnit: {
          outcome: string;
          valueAmount: number;
          qualityResult: string | null;
          outcomeHistory: { recordedById: string; before: string | null; after: string }[];
        };
      }>(viewer.key, 'query($id: ID!) { workUnit(id: $id) { outcome valueAmount qualityResult outcomeHistory { recordedById before after } } }', { id });
      const unit = read.data!.workUnit;
      expect(unit).toMatchObject({ outcome: 'ACCEPTED', valueAmount: 1250.5, qualityResult: null });
      expect(unit.outcomeHistory.map((h) => h.recordedById)).toEqual([client.principalId, client.principalId]);
      expect(unit.outcomeHistory[0].before).toBeNull();
      expect(JSON.parse(unit.outcomeHistory[1].before!)).toMatchObject({ outcome: 'REJECTED', qualityResult: 'missing drawing', humanReviewed: true });
      expect(JSON.parse(unit.outcomeHistory[1].after)).toMatchObject({
        outcome: 'ACCEPTED',
        valueDimension: 'CYCLE_TIME',
        valueAmount: 1250.5,
        evidenceConfidence: 0.8,
      });

      const outcomes = t.app.get(OutcomesService);
      expect((await outcomes.outcomesAsOf(org.organizationId, between)).get(id)?.outcome).toBe('REJECTED');
      expect((await outcomes.outcomesAsOf(org.organizationId, new Date())).get(id)?.outcome).toBe('ACCEPTED');
      expect((await outcomes.outcomesAsOf(org.organizationId, new Date(Date.now() - 3_600_000))).has(id)).toBe(false);
    });

    it('answers NOT_FOUND for a work unit of another organization, and BAD_USER_INPUT for a confidence above 1', async () => {
      const other = await t.organization('ledger-other');
      const foreign = (await t.gql<{ upsertWorkUnit: { id: string } }>(other.adminKey, UPSERT, { input: { externalRef: 'theirs' } })).data!.upsertWorkUnit.id;
      const res = await t.gql(client.key, 'mutation($input: OutcomeInput!) { recordOutcome(input: $input) { id } }', {
        input: { workUnitId: foreign, outcome: 'ACCEPTED' },
      });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'input.workUnitId' });
      const id = await workUnit();
      const bad = await t.gql(client.key, 'mutation($input: OutcomeInput!) { recordOutcome(input: $input) { id } }', {
        input: { workUnitId: id, outcome: 'ACCEPTED', evidenceConfidence: 1.5 },
      });
      expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.evidenceConfidence' });
    });
  });

  describe('compute usage', () => {
    it('counts a replayed event once, and a replay with other content as a conflict it does not record', async () => {
      const id = await workUnit();
      const events = [event({ workUnitId: id }), event({ workUnitId: id, cachedInputTokens: 400, reasoningOutputTokens: 50 })];
      expect((await t.gql(client.key, RECORD, { events })).data?.recordComputeUsage).toEqual({ accepted: 2, duplicates: 0, conflicts: 0 });
      const replay = [...events, { ...events[0], inputTokens: 999 }, event({ workUnitId: id })];
      expect((await t.gql(client.key, RECORD, { events: replay })).data?.recordComputeUsage).toEqual({ accepted: 1, duplicates: 2, conflicts: 1 });
      const rows: { input_tokens: string }[] = await dataSource.query(`SELECT input_tokens FROM ledger_entries WHERE event_key = $1`, [
        `compute:${events[0].eventId}`,
      ]);
      expect(rows).toEqual([{ input_tokens: '1000' }]);
      expect(await totalsOf(id)).toEqual(await summedRows(id));
      expect((await totalsOf(id)).computeInputTokens).toBe(3000);
    });

    it('folds an eventId repeated inside one batch', async () => {
      const one = event();
      const res = await t.gql(client.key, RECORD, { events: [one, one, { ...one, outputTokens: 1 }] });
      expect(res.data?.recordComputeUsage).toEqual({ accepted: 1, duplicates: 1, conflicts: 1 });
    });

    it.each([
      ['a negative token count', { inputTokens: -1 }, 'inputTokens'],
      ['a token count over 10^9', { outputTokens: 1_000_000_001 }, 'outputTokens'],
      ['more cached than input tokens', { inputTokens: 10, cachedInputTokens: 11 }, 'cachedInputTokens'],
      ['more reasoning than output tokens', { outputTokens: 10, reasoningOutputTokens: 11 }, 'reasoningOutputTokens'],
      ['an empty eventId', { eventId: '' }, 'eventId'],
      ['an eventId over 255 characters', { eventId: 'e'.repeat(256) }, 'eventId'],
      ['an empty model', { model: ' ' }, 'model'],
      ['a negative cost', { cost: -0.01 }, 'cost'],
      ['a date an hour ahead', { occurredAt: new Date(Date.now() + 3_600_000).toISOString() }, 'occurredAt'],
      ['a date ten years back', { occurredAt: '2016-01-01T00:00:00Z' }, 'occurredAt'],
      ['an unknown work unit', { workUnitId: randomUUID() }, 'workUnitId'],
      ['a malformed work unit id', { workUnitId: 'not-an-id' }, 'workUnitId'],
    ])('refuses the whole batch for %s, naming events[2].<field>', async (_name, bad, field) => {
      const events = [event(), event(), event(bad)];
      const res = await t.gql(client.key, RECORD, { events });
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: `events[2].${field}` });
      const written: { n: number }[] = await dataSource.query('SELECT count(*)::int AS n FROM ledger_event_keys WHERE event_key = ANY($1)', [
        events.map((e) => `compute:${e.eventId}`),
      ]);
      expect(written[0].n).toBe(0);
    });

    it('refuses non-integer and non-finite figures at the variables, naming the field', async () => {
      const fraction = await t.gql(client.key, RECORD, { events: [event(), event({ inputTokens: 1.5 })] });
      expect(fraction.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'events[1].inputTokens' });
      const missing = await t.gql(client.key, RECORD, { events: [event({ outputTokens: null })] });
      expect(missing.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'events[0].outputTokens' });
    });

    it('refuses an empty batch and one over 1,000 events', async () => {
      expect((await t.gql(client.key, RECORD, { events: [] })).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'events' });
      const tooMany = Array.from({ length: 1001 }, () => event());
      expect((await t.gql(client.key, RECORD, { events: tooMany })).errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'events' });
    });

    it('accepts a batch of 1,000 events', async () => {
      const res = await t.gql(client.key, RECORD, { events: Array.from({ length: 1000 }, () => event()) });
      expect(res.data?.recordComputeUsage).toEqual({ accepted: 1000, duplicates: 0, conflicts: 0 });
    });
  });

  describe('prices', () => {
    it('prices from the version in force at occurredAt, cached input at its own price, and keeps the caller’s cost', async () => {
      const model = `m-${randomUUID()}`;
      const id = await workUnit();
      await t.gql(org.adminKey, PRICE, {
        input: { provider: 'openai', model, inputPerMillion: 2, outputPerMillion: 8, cachedInputPerMillion: 0.5, effectiveFrom: '2026-01-01T00:00:00Z' },
      });
      const later = new Date(Date.now() - 60_000);
      await t.gql(org.adminKey, PRICE, { input: { provider: 'openai', model, inputPerMillion: 4, outputPerMillion: 16, effectiveFrom: later.toISOString() } });
      const early = event({
        workUnitId: id,
        model,
        inputTokens: 1_000_000,
        cachedInputTokens: 400_000,
        outputTokens: 100_000,
        occurredAt: new Date(later.getTime() - 1000).toISOString(),
      });
      const now = event({ workUnitId: id, model, inputTokens: 1_000_000, cachedInputTokens: 400_000, outputTokens: 100_000 });
      const caller = event({ workUnitId: id, model, cost: 0.25 });
      await t.gql(client.key, RECORD, { events: [early, now, caller] });
      const rows: { event_key: string; cost: string; cost_source: string; cached_input_price_per_million: string | null }[] = await dataSource.query(
        'SELECT event_key, cost, cost_source, cached_input_price_per_million FROM ledger_entries WHERE work_unit_id = $1 ORDER BY id',
        [id],
      );
      const byEvent = new Map(
        rows.map((r) => [
          r.event_key,
          [r.cost_source, Number(r.cost), r.cached_input_price_per_million === null ? null : Number(r.cached_input_price_per_million)],
        ]),
      );
      expect([early, now, caller].map((e) => byEvent.get(`compute:${e.eventId}`))).toEqual([
        ['PRICE_TABLE', 0.6 * 2 + 0.4 * 0.5 + 0.1 * 8, 0.5],
        ['PRICE_TABLE', 0.6 * 4 + 0.4 * 4 + 0.1 * 16, 4],
        ['CALLER', 0.25, null],
      ]);
      expect((await totalsOf(id)).computeCost).toBeCloseTo(2.2 + 5.6 + 0.25, 9);
    });

    it('keeps events without a price as UNPRICED, and a backdated price corrects them once with new rows', async () => {
      const model = `m-${randomUUID()}`;
      const id = await workUnit();
      const unpriced = [event({ workUnitId: id, model, occurredAt: new Date(Date.now() - 7_200_000).toISOString() }), event({ workUnitId: id, model })];
      await t.gql(client.key, RECORD, { events: unpriced });
      expect((await totalsOf(id)).computeCost).toBe(0);
      await t.gql(org.adminKey, PRICE, {
        input: { provider: 'openai', model, inputPerMillion: 10, outputPerMillion: 20, effectiveFrom: new Date(Date.now() - 3_600_000).toISOString() },
      });
      await t.gql(org.adminKey, PRICE, {
        input: { provider: 'openai', model, inputPerMillion: 10, outputPerMillion: 20, effectiveFrom: new Date(Date.now() - 86_400_000).toISOString() },
      });
      await t.gql(org.adminKey, PRICE, {
        input: { provider: 'openai', model, inputPerMillion: 99, outputPerMillion: 99, effectiveFrom: new Date(Date.now() - 86_400_000).toISOString() },
      });
      const rows: { id: string; kind: string; cost: string | null; cost_source: string; corrects_entry_id: string | null; input_tokens: string }[] =
        await dataSource.query('SELECT id, kind, cost, cost_source, corrects_entry_id, input_tokens FROM ledger_entries WHERE work_unit_id = $1 ORDER BY id', [
          id,
        ]);
      const originals = rows.filter((r) => r.kind === 'COMPUTE');
      const corrections = rows.filter((r) => r.kind === 'CORRECTION');
      expect(originals.map((r) => [r.cost_source, r.cost])).toEqual([
        ['UNPRICED', null],
        ['UNPRICED', null],
      ]);
      // The recent event by the first backdated price, the older one by the second; the third corrects nothing again.
      expect(corrections.map((r) => [r.corrects_entry_id, Number(r.cost), r.cost_source, r.input_tokens]).sort()).toEqual(
        [
          [originals[0].id, 1000 * 10e-6 + 200 * 20e-6, 'PRICE_TABLE', '0'],
          [originals[1].id, 1000 * 10e-6 + 200 * 20e-6, 'PRICE_TABLE', '0'],
        ].sort(),
      );
      const totals = await totalsOf(id);
      expect(totals).toEqual(await summedRows(id));
      expect(totals.computeInputTokens).toBe(2000);
      expect(totals.computeCost).toBeCloseTo(0.028, 9);
    });

    it('refuses a negative price and an empty model, naming the field', async () => {
      expect(
        (await t.gql(org.adminKey, PRICE, { input: { provider: 'p', model: 'm', inputPerMillion: -1, outputPerMillion: 1 } })).errors?.[0].extensions,
      ).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.inputPerMillion',
      });
      expect(
        (await t.gql(org.adminKey, PRICE, { input: { provider: 'p', model: '', inputPerMillion: 1, outputPerMillion: 1 } })).errors?.[0].extensions,
      ).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'input.model',
      });
    });
  });

  describe('the ledger table', () => {
    it('refuses UPDATE, DELETE and TRUNCATE of ledger rows and idempotency keys, on the table and on a partition', async () => {
      await t.gql(client.key, RECORD, { events: [event()] });
      const [{ partition }]: { partition: string }[] = await dataSource.query(
        `SELECT tableoid::regclass::text AS partition FROM ledger_entries WHERE organization_id = $1 LIMIT 1`,
        [org.organizationId],
      );
      for (const sql of [
        'UPDATE ledger_entries SET cost = 0 WHERE organization_id = $1',
        'DELETE FROM ledger_entries WHERE organization_id = $1',
        `UPDATE "${partition}" SET input_tokens = 0 WHERE organization_id = $1`,
        'DELETE FROM ledger_event_keys WHERE organization_id = $1',
        'UPDATE ledger_event_keys SET content_hash = $1::text WHERE organization_id = $1',
      ]) {
        await expect(dataSource.query(sql, [org.organizationId])).rejects.toThrow(/append-only/);
      }
      for (const table of ['ledger_entries', partition, 'ledger_event_keys', 'work_unit_outcomes']) {
        await expect(dataSource.query(`TRUNCATE "${table}"`)).rejects.toThrow(/append-only/);
      }
    });

    it('routes rows to their month and keeps partitions ready ahead; anything older lands in the default partition', async () => {
      expect(await new LedgerPartitionsService(dataSource).ensureAhead()).toBe(0);
      const months: { name: string }[] = await dataSource.query(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'ledger_entries'::regclass`,
      );
      const ahead = new Date();
      ahead.setUTCMonth(ahead.getUTCMonth() + 3, 1);
      expect(months.map((m) => m.name)).toEqual(
        expect.arrayContaining(['ledger_entries_default', `ledger_entries_${ahead.getUTCFullYear()}_${String(ahead.getUTCMonth() + 1).padStart(2, '0')}`]),
      );
      const old = event({ occurredAt: new Date(Date.now() - 399 * 86_400_000).toISOString() });
      await t.gql(client.key, RECORD, { events: [old] });
      const [{ partition }]: { partition: string }[] = await dataSource.query(
        `SELECT tableoid::regclass::text AS partition FROM ledger_entries WHERE event_key = $1`,
        [`compute:${old.eventId}`],
      );
      expect(partition).toBe('ledger_entries_default');
    });

    it('has exactly the columns its entity describes (the entity is kept out of schema sync)', async () => {
      const columns: { column_name: string }[] = await dataSource.query(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'ledger_entries'`,
      );
      const described = dataSource.getMetadata(LedgerEntryEntity).columns.map((c) => c.databaseName);
      // tx_id (xid8, which TypeORM has no type for) is set by its default and read only by the seals' SQL.
      expect(columns.map((c) => c.column_name).sort()).toEqual([...described, 'tx_id'].sort());
    });
  });

  describe('LedgerWriter.appendLicense', () => {
    function charge(workUnitId: string, overrides: Partial<LicenseCharge> = {}): LicenseCharge {
      return {
        organizationId: org.organizationId,
        drawId: randomUUID(),
        leaseId: randomUUID(),
        poolId: randomUUID(),
        appId: randomUUID(),
        principalId: client.principalId,
        workUnitId,
        startedAt: new Date(Date.now() - 7_200_000),
        endedAt: new Date(),
        creditSeconds: 21 * 7200,
        idleCreditSeconds: 21 * 1800,
        creditHourPrice: 1.5,
        ...overrides,
      };
    }

    it('writes one LICENSE row per draw in the caller’s transaction, and answers false for a draw charged before', async () => {
      const id = await workUnit();
      const writer = t.app.get(LedgerWriter);
      const first = charge(id);
      expect(await dataSource.transaction((m) => writer.appendLicense(m, first))).toBe(true);
      expect(await dataSource.transaction((m) => writer.appendLicense(m, first))).toBe(false);
      expect(await dataSource.transaction((m) => writer.appendLicense(m, { ...first, creditSeconds: 1 }))).toBe(false);
      const rows: Record<string, unknown>[] = await dataSource.query(
        `SELECT kind, meter, credit_seconds, idle_credit_seconds, credit_hour_price, cost, currency, cost_source, lease_id, pool_id, app_id, draw_id, principal_id
         FROM ledger_entries WHERE draw_id = $1`,
        [first.drawId],
      );
      expect(rows).toEqual([
        {
          kind: 'LICENSE',
          meter: 'LICENSE',
          credit_seconds: '151200.000',
          idle_credit_seconds: '37800.000',
          credit_hour_price: '1.500000000',
          cost: '63.000000000',
          currency: 'USD',
          cost_source: 'PRICE_TABLE',
          lease_id: first.leaseId,
          pool_id: first.poolId,
          app_id: first.appId,
          draw_id: first.drawId,
          principal_id: client.principalId,
        },
      ]);
      expect(await totalsOf(id)).toMatchObject({ licenseCreditHours: 42, licenseCost: 63, totalCost: 63 });
    });

    it('rolls back with the caller’s transaction, and records a draw without a price as UNPRICED', async () => {
      const id = await workUnit();
      const writer = t.app.get(LedgerWriter);
      const rolledBack = charge(id);
      await expect(
        dataSource.transaction(async (m) => {
          await writer.appendLicense(m, rolledBack);
          throw new Error('caller failed');
        }),
      ).rejects.toThrow('caller failed');
      expect(await dataSource.transaction((m) => writer.appendLicense(m, rolledBack))).toBe(true);
      expect(await dataSource.transaction((m) => writer.appendLicense(m, charge(id, { creditHourPrice: null })))).toBe(true);
      const rows: { cost: string | null; cost_source: string }[] = await dataSource.query(
        'SELECT cost, cost_source FROM ledger_entries WHERE work_unit_id = $1 ORDER BY id',
        [id],
      );
      expect(rows).toEqual([
        { cost: '63.000000000', cost_source: 'PRICE_TABLE' },
        { cost: null, cost_source: 'UNPRICED' },
      ]);
      expect(await totalsOf(id)).toEqual(await summedRows(id));
    });
  });
});
