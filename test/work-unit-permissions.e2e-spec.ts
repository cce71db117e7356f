import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { codeOf, TestApp } from './support/app';

const UNIT = 'id externalRef owner team process task orgUnitKind outcome';
const UPSERT = `mutation($input: WorkUnitInput!) { upsertWorkUnit(input: $input) { ${UNIT} } }`;
const OUTCOME = 'mutation($input: OutcomeInput!) { recordOutcome(input: $input) { id outcome decision } }';
const RECORD = 'mutation($events: [ComputeUsageInput!]!) { recordComputeUsage(events: $events) { accepted } }';

type Unit = Record<string, unknown> & { id: string; externalRef: string };

/** Who may change a work unit (the contract's role table): its creator's CLIENT keys and ADMIN keys; every writer may record usage on it. */
describe('work unit permissions: a CLIENT changes only the work units its principal created', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let org: { organizationId: string; adminKey: string };
  let clientA: { key: string; principalId: string };
  let clientB: { key: string; principalId: string };
  let viewer: { key: string };

  beforeAll(async () => {
    t = await TestApp.start();
    dataSource = t.app.get(DataSource);
    org = await t.organization('work-unit-permissions');
    clientA = await t.principalWithKey(org.adminKey, 'CLIENT', { name: 'agent-a', kind: 'AGENT', orgUnitKind: 'CHANGE' });
    clientB = await t.principalWithKey(org.adminKey, 'CLIENT', { name: 'agent-b', kind: 'AGENT', orgUnitKind: 'CHANGE' });
    viewer = await t.principalWithKey(org.adminKey, 'VIEWER', { name: 'reader' });
  });

  afterAll(async () => {
    await t.close();
  });

  async function upsert(key: string, input: Record<string, unknown>) {
    return t.gql<{ upsertWorkUnit: Unit }>(key, UPSERT, { input });
  }

  /** A work unit created by CLIENT A, with every field the rule guards set. */
  async function unitOfA(): Promise<Unit> {
    const res = await upsert(clientA.key, { externalRef: `wu-${randomUUID()}`, owner: 'ana', team: 'claims', process: 'claims-handling', task: 'triage' });
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    return res.data.upsertWorkUnit;
  }

  async function stored(id: string): Promise<Record<string, unknown>> {
    const [row]: Record<string, unknown>[] = await dataSource.query(
      'SELECT owner, team, process, task, org_unit_kind, outcome, outcome_recorded_at, created_by_principal_id, updated_at FROM work_units WHERE id = $1',
      [id],
    );
    return row;
  }

  async function outcomeRecords(id: string): Promise<number> {
    const [{ n }]: { n: number }[] = await dataSource.query('SELECT count(*)::int AS n FROM work_unit_outcomes WHERE work_unit_id = $1', [id]);
    return n;
  }

  it.each([
    ['owner', 'mallory'],
    ['team', 'other-team'],
    ['process', 'other-process'],
  ])("refuses CLIENT B a change of the %s of CLIENT A's work unit with FORBIDDEN, and leaves the row as it was", async (field, value) => {
    const unit = await unitOfA();
    const before = await stored(unit.id);
    const res = await upsert(clientB.key, { externalRef: unit.externalRef, [field]: value, task: 'hijacked' });
    expect(codeOf(res)).toBe('FORBIDDEN');
    expect(res.errors?.[0].message).toMatch(/created by another principal/);
    expect(await stored(unit.id)).toEqual(before);
  });

  it("refuses CLIENT B an outcome on CLIENT A's work unit with FORBIDDEN, and records nothing", async () => {
    const unit = await unitOfA();
    const before = await stored(unit.id);
    const res = await t.gql(clientB.key, OUTCOME, { input: { workUnitId: unit.id, outcome: 'REJECTED', decision: 'scrapped' } });
    expect(codeOf(res)).toBe('FORBIDDEN');
    expect(res.errors?.[0].message).toMatch(/created by another principal/);
    expect(await stored(unit.id)).toEqual(before);
    expect(await outcomeRecords(unit.id)).toBe(0);
  });

  it("lets CLIENT B name CLIENT A's work unit by its externalRef, repeating its owner, team and process, to learn its id", async () => {
    const unit = await unitOfA();
    const before = await stored(unit.id);
    const named = await upsert(clientB.key, { externalRef: unit.externalRef });
    expect(named.data?.upsertWorkUnit).toEqual(unit);
    const repeated = await upsert(clientB.key, { externalRef: unit.externalRef, owner: 'ana', team: 'claims', process: 'claims-handling' });
    expect(repeated.data?.upsertWorkUnit).toEqual(unit);
    expect((await stored(unit.id)).created_by_principal_id).toBe(before.created_by_principal_id);
  });

  it("lets CLIENT B record usage on CLIENT A's work unit", async () => {
    const unit = await unitOfA();
    const before = await stored(unit.id);
    const res = await t.gql<{ recordComputeUsage: { accepted: number } }>(clientB.key, RECORD, {
      events: [
        {
          eventId: randomUUID(),
          workUnitId: unit.id,
          provider: 'openai',
          model: 'gpt-test',
          inputTokens: 100,
          outputTokens: 10,
          cost: 0.5,
          occurredAt: new Date().toISOString(),
        },
      ],
    });
    expect(res.data?.recordComputeUsage).toEqual({ accepted: 1 });
    const read = await t.gql<{ workUnit: { computeInputTokens: number; computeCost: number } }>(
      viewer.key,
      'query($id: ID!) { workUnit(id: $id) { computeInputTokens computeCost } }',
      { id: unit.id },
    );
    expect(read.data?.workUnit).toEqual({ computeInputTokens: 100, computeCost: 0.5 });
    expect(await stored(unit.id)).toEqual(before);
  });

  it("lets CLIENT B's OTLP spans that name CLIENT A's work unit be recorded on it, without touching its owner, team or process", async () => {
    const unit = await unitOfA();
    const before = await stored(unit.id);
    const attribute = (key: string, value: Record<string, unknown>) => ({ key, value });
    const span = {
      traceId: randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
      endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
      attributes: [
        attribute('tokenpool.work_unit', { stringValue: unit.externalRef }),
        attribute('gen_ai.provider.name', { stringValue: 'openai' }),
        attribute('gen_ai.request.model', { stringValue: 'gpt-test' }),
        attribute('gen_ai.usage.input_tokens', { intValue: 70 }),
        attribute('gen_ai.usage.output_tokens', { intValue: 7 }),
      ],
    };
    const body = { resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ spans: [span] }] }] };
    await request(t.server)
      .post('/v1/traces')
      .set('Authorization', `Bearer ${clientB.key}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(body))
      .expect(200);
    const rows: { principal_id: string }[] = await dataSource.query('SELECT principal_id FROM ledger_entries WHERE work_unit_id = $1', [unit.id]);
    expect(rows).toEqual([{ principal_id: clientB.principalId }]);
    expect(await stored(unit.id)).toEqual(before);
  });

  it('lets CLIENT A change the owner, team, process and outcome of its own work unit', async () => {
    const unit = await unitOfA();
    const changed = await upsert(clientA.key, { externalRef: unit.externalRef, owner: 'bo', team: 'plant', process: 'quote' });
    expect(changed.data?.upsertWorkUnit).toEqual({ ...unit, owner: 'bo', team: 'plant', process: 'quote' });
    const outcome = await t.gql<{ recordOutcome: { outcome: string } }>(clientA.key, OUTCOME, { input: { workUnitId: unit.id, outcome: 'ACCEPTED' } });
    expect(outcome.data?.recordOutcome).toMatchObject({ id: unit.id, outcome: 'ACCEPTED' });
  });

  it("lets an ADMIN key change the owner, team, process and outcome of a CLIENT's work unit", async () => {
    const unit = await unitOfA();
    const changed = await upsert(org.adminKey, { externalRef: unit.externalRef, owner: 'cy', team: 'ops', process: 'review' });
    expect(changed.data?.upsertWorkUnit).toEqual({ ...unit, owner: 'cy', team: 'ops', process: 'review' });
    const outcome = await t.gql<{ recordOutcome: { outcome: string } }>(org.adminKey, OUTCOME, { input: { workUnitId: unit.id, outcome: 'REJECTED' } });
    expect(outcome.data?.recordOutcome).toMatchObject({ id: unit.id, outcome: 'REJECTED' });
  });

  it("refuses a CLIENT a change of a work unit an ADMIN key created, as of any other principal's", async () => {
    const created = await upsert(org.adminKey, { externalRef: `wu-${randomUUID()}`, owner: 'admin-owned' });
    const unit = created.data!.upsertWorkUnit;
    expect(codeOf(await upsert(clientA.key, { externalRef: unit.externalRef, owner: 'ana' }))).toBe('FORBIDDEN');
    expect(codeOf(await t.gql(clientA.key, OUTCOME, { input: { workUnitId: unit.id, outcome: 'ACCEPTED' } }))).toBe('FORBIDDEN');
    expect(await stored(unit.id)).toMatchObject({ owner: 'admin-owned', outcome: 'PENDING' });
  });

  it('gives a VIEWER reads only: work units by id and in lists, and FORBIDDEN on every write', async () => {
    const unit = await unitOfA();
    const read = await t.gql<{ workUnit: Unit; workUnits: { id: string }[] }>(
      viewer.key,
      `query($id: ID!) { workUnit(id: $id) { ${UNIT} } workUnits(first: 100) { id } }`,
      { id: unit.id },
    );
    expect(read.data?.workUnit).toEqual(unit);
    expect(read.data?.workUnits.map((u) => u.id)).toContain(unit.id);
    expect(codeOf(await upsert(viewer.key, { externalRef: unit.externalRef, owner: 'v' }))).toBe('FORBIDDEN');
    expect(codeOf(await upsert(viewer.key, { externalRef: `wu-${randomUUID()}` }))).toBe('FORBIDDEN');
    expect(codeOf(await t.gql(viewer.key, OUTCOME, { input: { workUnitId: unit.id, outcome: 'ACCEPTED' } }))).toBe('FORBIDDEN');
    const usage = await t.gql(viewer.key, RECORD, {
      events: [
        { eventId: randomUUID(), workUnitId: unit.id, provider: 'openai', model: 'm', inputTokens: 1, outputTokens: 1, occurredAt: new Date().toISOString() },
      ],
    });
    expect(codeOf(usage)).toBe('FORBIDDEN');
  });
});
