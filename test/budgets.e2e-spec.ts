import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { BudgetClock } from '../src/budget-engine/budget-clock';
import { BudgetMetricsService } from '../src/budgets/budget-metrics.service';
import { BudgetStateService } from '../src/budget-engine/budget-state.service';
import { BudgetSweepService } from '../src/budgets/budget-sweep.service';
import { BudgetStore } from '../src/lease-engine/budget-store';
import { MetricsService } from '../src/common/metrics/metrics.service';
import { APP_CONFIG, AppConfig } from '../src/config/env';
import { RedisService } from '../src/common/redis/redis.service';
import { codeOf, GqlResult, TestApp } from './support/app';

const CREATE = `mutation($input: CreateComputeBudgetInput!) { createComputeBudget(input: $input) { id name scope team period limit spent reserved remaining periodStart principal { id } workUnit { id } } }`;
const UPDATE = 'mutation($id: ID!, $input: UpdateComputeBudgetInput!) { updateComputeBudget(id: $id, input: $input) { id name limit remaining } }';
const DELETE = 'mutation($id: ID!) { deleteComputeBudget(id: $id) }';
const BUDGETS = '{ computeBudgets { id name scope limit spent reserved remaining periodStart } }';
const RESERVATION_FIELDS = 'id state amount expiresAt settledCost budgets { id spent reserved remaining } workUnit { id }';
const RESERVE = `mutation($input: ReserveComputeInput!) { reserveCompute(input: $input) { ${RESERVATION_FIELDS} } }`;
const SETTLE = `mutation($id: ID!, $usage: ComputeUsageInput!) { settleCompute(reservationId: $id, usage: $usage) { ${RESERVATION_FIELDS} } }`;
const CANCEL = `mutation($id: ID!) { cancelReservation(reservationId: $id) { ${RESERVATION_FIELDS} } }`;
const GET = `query($id: ID!) { reservation(id: $id) { ${RESERVATION_FIELDS} } }`;
const RECORD = 'mutation($events: [ComputeUsageInput!]!) { recordComputeUsage(events: $events) { accepted duplicates conflicts } }';
const PRICE = 'mutation($input: ModelPriceInput!) { setModelPrice(input: $input) }';
const UPSERT = 'mutation($input: WorkUnitInput!) { upsertWorkUnit(input: $input) { id } }';

interface Budget {
  id: string;
  name: string;
  limit: number;
  spent: number;
  reserved: number;
  remaining: number;
  periodStart: string | null;
}
interface Reservation {
  id: string;
  state: string;
  amount: number;
  expiresAt: string;
  settledCost: number | null;
  budgets: { id: string; spent: number; reserved: number; remaining: number }[];
  workUnit: { id: string } | null;
}

function data<T>(res: GqlResult<T>): T {
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data;
}

describe('compute budgets: reserve before a model call, settle after', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let org: { organizationId: string; adminKey: string };
  let other: { key: string; principalId: string };
  let viewer: { key: string };

  beforeAll(async () => {
    t = await TestApp.start();
    dataSource = t.app.get(DataSource);
    org = await t.organization('budgets');
    other = await t.principalWithKey(org.adminKey, 'CLIENT', { name: 'other-agent', kind: 'AGENT', team: 'sales' });
    viewer = await t.principalWithKey(org.adminKey, 'VIEWER');
    data(
      await t.gql(org.adminKey, PRICE, {
        input: { provider: 'openai', model: 'gpt-budget', inputPerMillion: 2, outputPerMillion: 8, effectiveFrom: new Date(Date.now() - 60_000).toISOString() },
      }),
    );
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await t.close();
  });

  /** The worker's sweep, built from the API's own budget engine. */
  function sweeper(): BudgetSweepService {
    return new BudgetSweepService(
      dataSource,
      t.app.get(BudgetStore, { strict: false }),
      t.app.get(BudgetStateService, { strict: false }),
      t.app.get(BudgetClock, { strict: false }),
      t.app.get(BudgetMetricsService, { strict: false }),
      t.app.get<AppConfig>(APP_CONFIG),
    );
  }

  async function budget(input: Record<string, unknown>): Promise<Budget> {
    return data(await t.gql<{ createComputeBudget: Budget }>(org.adminKey, CREATE, { input: { name: `b-${randomUUID()}`, period: 'TOTAL', ...input } }))
      .createComputeBudget;
  }

  async function budgetsOf(key: string): Promise<Map<string, Budget>> {
    const list = data(await t.gql<{ computeBudgets: Budget[] }>(key, BUDGETS)).computeBudgets;
    return new Map(list.map((b) => [b.id, b]));
  }

  function reserve(key: string, input: Record<string, unknown>) {
    return t.gql<{ reserveCompute: Reservation }>(key, RESERVE, {
      input: { provider: 'openai', model: 'gpt-budget', maxInputTokens: 1000, maxOutputTokens: 1000, ...input },
    });
  }

  function usage(overrides: Record<string, unknown> = {}) {
    return {
      eventId: randomUUID(),
      provider: 'openai',
      model: 'gpt-budget',
      inputTokens: 1000,
      outputTokens: 500,
      occurredAt: new Date().toISOString(),
      ...overrides,
    };
  }

  async function isolatedTeam(): Promise<{ key: string; principalId: string; team: string }> {
    const team = `team-${randomUUID()}`;
    return { ...(await t.principalWithKey(org.adminKey, 'CLIENT', { name: 'agent', kind: 'AGENT', team })), team };
  }

  it('prices the hold from the price table, holds it on every budget that applies, and settles below the hold', async () => {
    const caller = await isolatedTeam();
    const team = await budget({ scope: 'TEAM', team: caller.team, limit: 1 });
    const own = await budget({ scope: 'PRINCIPAL', principalId: caller.principalId, limit: 5 });
    // 1000 x 2/M + 1000 x 8/M = 0.01
    const r = data(await reserve(caller.key, {})).reserveCompute;
    expect(r.state).toBe('OPEN');
    expect(r.amount).toBeCloseTo(0.01, 9);
    expect(r.budgets.map((b) => b.id).sort()).toEqual([team.id, own.id].sort());
    const held = await budgetsOf(org.adminKey);
    expect(held.get(team.id)).toMatchObject({ reserved: 0.01, spent: 0, remaining: 0.99 });
    expect(held.get(own.id)).toMatchObject({ reserved: 0.01, remaining: 4.99 });

    // 1000 x 2/M + 500 x 8/M = 0.006
    const settled = data(await t.gql<{ settleCompute: Reservation }>(caller.key, SETTLE, { id: r.id, usage: usage() })).settleCompute;
    expect(settled.state).toBe('SETTLED');
    expect(settled.settledCost).toBeCloseTo(0.006, 9);
    const after = await budgetsOf(org.adminKey);
    expect(after.get(team.id)).toMatchObject({ reserved: 0, spent: 0.006, remaining: 0.994 });
    expect(after.get(own.id)).toMatchObject({ reserved: 0, spent: 0.006 });
    const [ledger] = await dataSource.query(
      `SELECT count(*)::int AS n, sum(cost)::float8 AS cost FROM ledger_entries WHERE organization_id = $1 AND principal_id = $2 AND kind = 'COMPUTE'`,
      [org.organizationId, caller.principalId],
    );
    expect(ledger).toEqual({ n: 1, cost: 0.006 });
  });

  it('records a cost above the hold in full, taking remaining to 0 without refusing it', async () => {
    const caller = await isolatedTeam();
    const team = await budget({ scope: 'TEAM', team: caller.team, limit: 0.05 });
    const r = data(await reserve(caller.key, { amount: 0.02 })).reserveCompute;
    const settled = data(await t.gql<{ settleCompute: Reservation }>(caller.key, SETTLE, { id: r.id, usage: usage({ cost: 0.08 }) })).settleCompute;
    expect(settled).toMatchObject({ state: 'SETTLED', amount: 0.02, settledCost: 0.08 });
    expect((await budgetsOf(org.adminKey)).get(team.id)).toMatchObject({ spent: 0.08, reserved: 0, remaining: 0 });
    const refused = await reserve(caller.key, { amount: 0.001 });
    expect(codeOf(refused)).toBe('BUDGET_EXHAUSTED');
    expect(refused.errors![0].extensions).toMatchObject({ budgetId: team.id, remaining: 0, requested: 0.001 });
  });

  it('settles once per eventId: a second settle with the same eventId answers the settled reservation and charges nothing more', async () => {
    const caller = await isolatedTeam();
    const team = await budget({ scope: 'TEAM', team: caller.team, limit: 10 });
    const r = data(await reserve(caller.key, { amount: 1 })).reserveCompute;
    const event = usage({ cost: 0.5 });
    const first = data(await t.gql<{ settleCompute: Reservation }>(caller.key, SETTLE, { id: r.id, usage: event })).settleCompute;
    const again = data(await t.gql<{ settleCompute: Reservation }>(caller.key, SETTLE, { id: r.id, usage: event })).settleCompute;
    expect(again).toEqual(first);
    expect((await budgetsOf(org.adminKey)).get(team.id)).toMatchObject({ spent: 0.5, reserved: 0 });
    const otherEvent = await t.gql(caller.key, SETTLE, { id: r.id, usage: usage({ cost: 0.5 }) });
    expect(codeOf(otherEvent)).toBe('LEASE_NOT_ACTIVE');
    expect(otherEvent.errors![0].extensions.state).toBe('SETTLED');
    const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM ledger_entries WHERE organization_id = $1 AND principal_id = $2`, [
      org.organizationId,
      caller.principalId,
    ]);
    expect(n).toBe(1);
  });

  it('cancel releases the hold at once; a cancelled reservation cannot be settled', async () => {
    const caller = await isolatedTeam();
    const team = await budget({ scope: 'TEAM', team: caller.team, limit: 1 });
    const r = data(await reserve(caller.key, { amount: 0.7 })).reserveCompute;
    expect(codeOf(await reserve(caller.key, { amount: 0.7 }))).toBe('BUDGET_EXHAUSTED');
    const cancelled = data(await t.gql<{ cancelReservation: Reservation }>(caller.key, CANCEL, { id: r.id })).cancelReservation;
    expect(cancelled.state).toBe('CANCELLED');
    expect(data(await t.gql<{ cancelReservation: Reservation }>(caller.key, CANCEL, { id: r.id })).cancelReservation.state).toBe('CANCELLED');
    expect((await budgetsOf(org.adminKey)).get(team.id)).toMatchObject({ reserved: 0, remaining: 1 });
    expect(data(await reserve(caller.key, { amount: 0.7 })).reserveCompute.state).toBe('OPEN');
    expect(codeOf(await t.gql(caller.key, SETTLE, { id: r.id, usage: usage() }))).toBe('LEASE_NOT_ACTIVE');
  });

  it('the worker expires a reservation past expiresAt, records it, and releases its hold', async () => {
    const caller = await isolatedTeam();
    const team = await budget({ scope: 'TEAM', team: caller.team, limit: 1 });
    const r = data(await reserve(caller.key, { amount: 0.6, reservationSeconds: 5 })).reserveCompute;
    await dataSource.query(`UPDATE compute_reservations SET expires_at = now() - interval '1 second' WHERE id = $1`, [r.id]);
    const sweep = sweeper();
    const summary = await sweep.sweep();
    expect(summary.expired).toBeGreaterThanOrEqual(1);
    const expired = data(await t.gql<{ reservation: Reservation }>(caller.key, GET, { id: r.id })).reservation;
    expect(expired.state).toBe('EXPIRED');
    expect((await budgetsOf(org.adminKey)).get(team.id)).toMatchObject({ reserved: 0, remaining: 1 });
    // The call was made after all: its usage is still recorded and charged.
    const late = data(await t.gql<{ settleCompute: Reservation }>(caller.key, SETTLE, { id: r.id, usage: usage({ cost: 0.25 }) })).settleCompute;
    expect(late.state).toBe('SETTLED');
    expect((await budgetsOf(org.adminKey)).get(team.id)).toMatchObject({ spent: 0.25, reserved: 0 });
  });

  it('checks a team budget and the organization budget together: the tighter refuses, and nothing is held', async () => {
    const own = await t.organization('budgets-org');
    const caller = await t.principalWithKey(own.adminKey, 'CLIENT', { name: 'a', kind: 'AGENT', team: 'ml' });
    const orgBudget = data(
      await t.gql<{ createComputeBudget: Budget }>(own.adminKey, CREATE, { input: { name: 'company', scope: 'ORGANIZATION', period: 'MONTH', limit: 3 } }),
    ).createComputeBudget;
    const teamBudget = data(
      await t.gql<{ createComputeBudget: Budget }>(own.adminKey, CREATE, { input: { name: 'ml', scope: 'TEAM', team: 'ml', period: 'DAY', limit: 2 } }),
    ).createComputeBudget;
    expect(orgBudget.periodStart).toBe(new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), 1)).toISOString());
    data(await t.gql(caller.key, RESERVE, { input: { provider: 'x', model: 'y', maxInputTokens: 0, maxOutputTokens: 0, amount: 1.5 } }));
    const refused = await t.gql(caller.key, RESERVE, { input: { provider: 'x', model: 'y', maxInputTokens: 0, maxOutputTokens: 0, amount: 1 } });
    expect(codeOf(refused)).toBe('BUDGET_EXHAUSTED');
    expect(refused.errors![0].extensions).toMatchObject({ budgetId: teamBudget.id, remaining: 0.5, requested: 1 });
    const figures = new Map(data(await t.gql<{ computeBudgets: Budget[] }>(own.adminKey, BUDGETS)).computeBudgets.map((b) => [b.id, b]));
    expect(figures.get(orgBudget.id)).toMatchObject({ reserved: 1.5, remaining: 1.5 });
    expect(figures.get(teamBudget.id)).toMatchObject({ reserved: 1.5, remaining: 0.5 });
    // Raising the team's limit leaves the organization's as the tighter one.
    data(await t.gql(own.adminKey, UPDATE, { id: teamBudget.id, input: { limit: 10 } }));
    const orgRefusal = await t.gql(caller.key, RESERVE, { input: { provider: 'x', model: 'y', maxInputTokens: 0, maxOutputTokens: 0, amount: 2 } });
    expect(orgRefusal.errors![0].extensions).toMatchObject({ code: 'BUDGET_EXHAUSTED', budgetId: orgBudget.id, remaining: 1.5, requested: 2 });
  });

  it('a WORK_UNIT budget limits the reservations made for its work unit only', async () => {
    const caller = await isolatedTeam();
    const unit = data(await t.gql<{ upsertWorkUnit: { id: string } }>(caller.key, UPSERT, { input: { externalRef: `wu-${randomUUID()}` } })).upsertWorkUnit.id;
    const wub = await budget({ scope: 'WORK_UNIT', workUnitId: unit, limit: 0.5 });
    const r = data(await reserve(caller.key, { amount: 0.4, workUnitId: unit })).reserveCompute;
    expect(r.workUnit).toEqual({ id: unit });
    expect(r.budgets.map((b) => b.id)).toContain(wub.id);
    expect(codeOf(await reserve(caller.key, { amount: 0.4, workUnitId: unit }))).toBe('BUDGET_EXHAUSTED');
    expect(data(await reserve(caller.key, { amount: 0.4 })).reserveCompute.budgets.map((b) => b.id)).not.toContain(wub.id);
    // The settled usage goes to the reservation's work unit in the ledger.
    data(await t.gql(caller.key, SETTLE, { id: r.id, usage: usage({ cost: 0.1 }) }));
    const [row] = await dataSource.query(`SELECT work_unit_id FROM ledger_entries WHERE organization_id = $1 AND principal_id = $2`, [
      org.organizationId,
      caller.principalId,
    ]);
    expect(row.work_unit_id).toBe(unit);
  });

  it('usage recorded without a reservation counts into spent of the budgets it falls under', async () => {
    const caller = await isolatedTeam();
    const team = await budget({ scope: 'TEAM', team: caller.team, limit: 1 });
    const day = await budget({ scope: 'PRINCIPAL', principalId: caller.principalId, period: 'DAY', limit: 1 });
    const res = data(
      await t.gql<{ recordComputeUsage: { accepted: number } }>(caller.key, RECORD, {
        events: [usage({ cost: 0.3 }), usage(), usage({ cost: 0.2, occurredAt: new Date(Date.now() - 3 * 86_400_000).toISOString() })],
      }),
    );
    expect(res.recordComputeUsage.accepted).toBe(3);
    const figures = await budgetsOf(org.adminKey);
    // 0.3 + 0.006 (priced) + 0.2 (three days ago) in TOTAL; the DAY budget sees today's only.
    expect(figures.get(team.id)!.spent).toBeCloseTo(0.506, 9);
    expect(figures.get(day.id)!.spent).toBeCloseTo(0.306, 9);
  });

  it('retries with the same idempotencyKey return the same reservation; other arguments are a conflict', async () => {
    const caller = await isolatedTeam();
    const team = await budget({ scope: 'TEAM', team: caller.team, limit: 1 });
    const key = `call-${randomUUID()}`;
    const [a, b] = await Promise.all([reserve(caller.key, { amount: 0.4, idempotencyKey: key }), reserve(caller.key, { amount: 0.4, idempotencyKey: key })]);
    expect(data(a).reserveCompute.id).toBe(data(b).reserveCompute.id);
    expect((await budgetsOf(org.adminKey)).get(team.id)).toMatchObject({ reserved: 0.4 });
    expect(codeOf(await reserve(caller.key, { amount: 0.5, idempotencyKey: key }))).toBe('IDEMPOTENCY_CONFLICT');
  });

  it('starts a DAY budget afresh at the UTC midnight of the API clock; a reservation counts in the day it was made', async () => {
    const caller = await isolatedTeam();
    const clock = t.app.get(BudgetClock, { strict: false });
    const midnight = Date.UTC(2031, 0, 2);
    const now = jest.spyOn(clock, 'now').mockReturnValue(midnight - 10_000);
    try {
      const daily = await budget({ scope: 'TEAM', team: caller.team, period: 'DAY', limit: 1 });
      const before = data(await reserve(caller.key, { amount: 0.9 })).reserveCompute;
      expect(codeOf(await reserve(caller.key, { amount: 0.5 }))).toBe('BUDGET_EXHAUSTED');
      now.mockReturnValue(midnight + 10_000);
      const fresh = (await budgetsOf(org.adminKey)).get(daily.id)!;
      expect(fresh).toMatchObject({ spent: 0, reserved: 0, remaining: 1, periodStart: new Date(midnight).toISOString() });
      const after = data(await reserve(caller.key, { amount: 0.9 })).reserveCompute;
      // Yesterday's reservation settles into yesterday: today keeps only today's hold.
      data(await t.gql(caller.key, SETTLE, { id: before.id, usage: usage({ cost: 0.9 }) }));
      expect((await budgetsOf(org.adminKey)).get(daily.id)).toMatchObject({ spent: 0, reserved: 0.9 });
      data(await t.gql(caller.key, CANCEL, { id: after.id }));
    } finally {
      now.mockRestore();
    }
  });

  it('lowering a limit ends no reservation; budget changes are audited', async () => {
    const caller = await isolatedTeam();
    const team = await budget({ scope: 'TEAM', team: caller.team, limit: 1 });
    const r = data(await reserve(caller.key, { amount: 0.8 })).reserveCompute;
    const lowered = data(
      await t.gql<{ updateComputeBudget: Budget }>(org.adminKey, UPDATE, { id: team.id, input: { limit: 0.5, name: `${team.name}-low` } }),
    ).updateComputeBudget;
    expect(lowered).toMatchObject({ limit: 0.5, remaining: 0 });
    expect(data(await t.gql<{ reservation: Reservation }>(caller.key, GET, { id: r.id })).reservation.state).toBe('OPEN');
    expect(data(await t.gql<{ settleCompute: Reservation }>(caller.key, SETTLE, { id: r.id, usage: usage({ cost: 0.7 }) })).settleCompute.state).toBe(
      'SETTLED',
    );
    expect(data(await t.gql<{ deleteComputeBudget: boolean }>(org.adminKey, DELETE, { id: team.id })).deleteComputeBudget).toBe(true);
    const audit: { action: string; before: { limit: number } | null; after: { limit: number } | null }[] = await dataSource.query(
      `SELECT action, before, after FROM audit_log WHERE organization_id = $1 AND object_id = $2 ORDER BY id`,
      [org.organizationId, team.id],
    );
    expect(audit.map((a) => a.action)).toEqual(['createComputeBudget', 'updateComputeBudget', 'deleteComputeBudget']);
    expect(audit[1].before!.limit).toBe(1);
    expect(audit[1].after!.limit).toBe(0.5);
    expect((await budgetsOf(org.adminKey)).has(team.id)).toBe(false);
  });

  it("refuses bad input and other principals' and organizations' ids with contract codes, changing nothing", async () => {
    const caller = await isolatedTeam();
    const team = await budget({ scope: 'TEAM', team: caller.team, limit: 1 });
    const stranger = await t.organization('budgets-stranger');
    const strangerClient = await t.principalWithKey(stranger.adminKey, 'CLIENT');
    const r = data(await reserve(caller.key, { amount: 0.1 })).reserveCompute;
    const cases: [GqlResult, string, string?][] = [
      [await reserve(caller.key, { model: 'unpriced' }), 'BAD_USER_INPUT', 'input.amount'],
      [await reserve(caller.key, { amount: -1 }), 'BAD_USER_INPUT', 'input.amount'],
      [await reserve(caller.key, { amount: 0.1, reservationSeconds: 4 }), 'BAD_USER_INPUT', 'input.reservationSeconds'],
      [await reserve(caller.key, { maxOutputTokens: -5 }), 'BAD_USER_INPUT', 'input.maxOutputTokens'],
      [await reserve(caller.key, { amount: 0.1, workUnitId: randomUUID() }), 'NOT_FOUND', 'input.workUnitId'],
      [await reserve(viewer.key, { amount: 0.1 }), 'FORBIDDEN'],
      [await t.gql(org.adminKey, CREATE, { input: { name: 'x', scope: 'TEAM', period: 'DAY', limit: 1 } }), 'BAD_USER_INPUT', 'input.team'],
      [await t.gql(org.adminKey, CREATE, { input: { name: 'x', scope: 'ORGANIZATION', team: 'a', period: 'DAY', limit: 1 } }), 'BAD_USER_INPUT', 'input.team'],
      [
        await t.gql(org.adminKey, CREATE, { input: { name: 'x', scope: 'PRINCIPAL', principalId: strangerClient.principalId, period: 'DAY', limit: 1 } }),
        'NOT_FOUND',
        'input.principalId',
      ],
      [
        await t.gql(org.adminKey, CREATE, { input: { name: 'x', scope: 'ORGANIZATION', period: 'DAY', limit: Number.MAX_VALUE } }),
        'BAD_USER_INPUT',
        'input.limit',
      ],
      [await t.gql(org.adminKey, CREATE, { input: { name: team.name, scope: 'ORGANIZATION', period: 'DAY', limit: 1 } }), 'BAD_USER_INPUT', 'input.name'],
      [await t.gql(caller.key, CREATE, { input: { name: 'x', scope: 'ORGANIZATION', period: 'DAY', limit: 1 } }), 'FORBIDDEN'],
      [await t.gql(stranger.adminKey, UPDATE, { id: team.id, input: { limit: 100 } }), 'NOT_FOUND'],
      [await t.gql(stranger.adminKey, DELETE, { id: team.id }), 'NOT_FOUND'],
      [await t.gql(strangerClient.key, SETTLE, { id: r.id, usage: usage() }), 'NOT_FOUND'],
      [await t.gql(other.key, SETTLE, { id: r.id, usage: usage() }), 'NOT_FOUND'],
      [await t.gql(other.key, CANCEL, { id: r.id }), 'NOT_FOUND'],
      [await t.gql(caller.key, SETTLE, { id: r.id, usage: usage({ inputTokens: -1 }) }), 'BAD_USER_INPUT', 'usage.inputTokens'],
      [await t.gql(caller.key, SETTLE, { id: 'not-a-uuid', usage: usage() }), 'NOT_FOUND'],
    ];
    for (const [res, code, field] of cases) {
      expect({ code: codeOf(res), field: res.errors?.[0]?.extensions.field, message: typeof res.errors?.[0]?.message }).toEqual({
        code,
        field: field ?? res.errors?.[0]?.extensions.field,
        message: 'string',
      });
    }
    expect(data(await t.gql<{ reservation: Reservation | null }>(strangerClient.key, GET, { id: r.id })).reservation).toBeNull();
    expect(data(await t.gql<{ reservation: Reservation | null }>(other.key, GET, { id: r.id })).reservation).toBeNull();
    expect(data(await t.gql<{ reservation: Reservation | null }>(viewer.key, GET, { id: r.id })).reservation!.state).toBe('OPEN');
    expect(data(await t.gql<{ computeBudgets: Budget[] }>(stranger.adminKey, BUDGETS)).computeBudgets).toEqual([]);
    expect((await budgetsOf(org.adminKey)).get(team.id)).toMatchObject({ limit: 1, reserved: 0.1, spent: 0 });
  });

  it('a CLIENT sees the budgets that apply to it; ADMIN and VIEWER see all', async () => {
    const caller = await isolatedTeam();
    const mine = await budget({ scope: 'TEAM', team: caller.team, limit: 1 });
    const theirs = await budget({ scope: 'PRINCIPAL', principalId: other.principalId, limit: 1 });
    const seen = await budgetsOf(caller.key);
    expect(seen.has(mine.id)).toBe(true);
    expect(seen.has(theirs.id)).toBe(false);
    expect((await budgetsOf(viewer.key)).has(theirs.id)).toBe(true);
  });

  it('rebuilds budgets and OPEN reservations from PostgreSQL when Redis loses them, failing closed meanwhile', async () => {
    const own = await t.organization('budgets-rebuild');
    const caller = await t.principalWithKey(own.adminKey, 'CLIENT', { name: 'a', kind: 'AGENT', team: 'ml' });
    const b = data(
      await t.gql<{ createComputeBudget: Budget }>(own.adminKey, CREATE, { input: { name: 'ml', scope: 'TEAM', team: 'ml', period: 'DAY', limit: 1 } }),
    ).createComputeBudget;
    const open = data(
      await t.gql<{ reserveCompute: Reservation }>(caller.key, RESERVE, {
        input: { provider: 'x', model: 'y', maxInputTokens: 0, maxOutputTokens: 0, amount: 0.3 },
      }),
    ).reserveCompute;
    const done = data(
      await t.gql<{ reserveCompute: Reservation }>(caller.key, RESERVE, {
        input: { provider: 'x', model: 'y', maxInputTokens: 0, maxOutputTokens: 0, amount: 0.3 },
      }),
    ).reserveCompute;
    data(await t.gql(caller.key, SETTLE, { id: done.id, usage: usage({ provider: 'x', model: 'y', cost: 0.2 }) }));
    data(await t.gql(caller.key, RECORD, { events: [usage({ provider: 'x', model: 'y', cost: 0.1 })] }));
    const store = t.app.get(BudgetStore, { strict: false });
    const redis = t.app.get(RedisService).client;
    await redis.del(store.keyBase(own.organizationId), `${store.keyBase(own.organizationId)}:exp`);
    const figures = data(await t.gql<{ computeBudgets: Budget[] }>(own.adminKey, BUDGETS)).computeBudgets[0];
    expect(figures).toMatchObject({ id: b.id, reserved: 0.3, remaining: 0.4 });
    expect(figures.spent).toBeCloseTo(0.3, 9);
    expect(codeOf(await t.gql(caller.key, RESERVE, { input: { provider: 'x', model: 'y', maxInputTokens: 0, maxOutputTokens: 0, amount: 0.5 } }))).toBe(
      'BUDGET_EXHAUSTED',
    );
    data(await t.gql(caller.key, CANCEL, { id: open.id }));
    expect(data(await t.gql<{ computeBudgets: Budget[] }>(own.adminKey, BUDGETS)).computeBudgets[0].reserved).toBe(0);
  });

  it('detects a Redis that went back in time (an older copy of the state) and rebuilds it, at the next grant or the next sweep', async () => {
    const own = await t.organization('budgets-rollback');
    const caller = await t.principalWithKey(own.adminKey, 'CLIENT', { name: 'a', kind: 'AGENT', team: 'ml' });
    data(await t.gql(own.adminKey, CREATE, { input: { name: 'ml', scope: 'TEAM', team: 'ml', period: 'TOTAL', limit: 10 } }));
    const reserveOne = async () =>
      data(
        await t.gql<{ reserveCompute: Reservation }>(caller.key, RESERVE, {
          input: { provider: 'x', model: 'y', maxInputTokens: 0, maxOutputTokens: 0, amount: 1 },
        }),
      ).reserveCompute;
    const store = t.app.get(BudgetStore, { strict: false });
    const redis = t.app.get(RedisService).client;
    const base = store.keyBase(own.organizationId);
    const snapshot = async () => ({ state: await redis.dumpBuffer(base), exp: await redis.dumpBuffer(`${base}:exp`) });
    const restore = async (copy: { state: Buffer | null; exp: Buffer | null }) => {
      await redis.restore(base, 0, copy.state!, 'REPLACE');
      await redis.restore(`${base}:exp`, 0, copy.exp!, 'REPLACE');
    };
    const held = async (ids: string[]) => [...(await store.holds(own.organizationId, ids)).held].sort();

    // At the next grant: its seq repeats one recorded as granted before.
    const first = await reserveOne();
    const old = await snapshot();
    const lost = [await reserveOne(), await reserveOne()];
    await restore(old);
    expect(await held([first.id, ...lost.map((r) => r.id)])).toEqual([first.id]);
    const next = await reserveOne();
    const all = [first, ...lost, next].map((r) => r.id);
    expect(await held(all)).toEqual([...all].sort());
    expect(data(await t.gql<{ computeBudgets: Budget[] }>(own.adminKey, BUDGETS)).computeBudgets[0]).toMatchObject({ reserved: 4, remaining: 6 });

    // At the next sweep: nobody reserves, but Redis lacks OPEN reservations PostgreSQL recorded.
    const before = await snapshot();
    const unseen = await reserveOne();
    await restore(before);
    const sweep = sweeper();
    expect((await sweep.sweep()).rebuilt).toBeGreaterThanOrEqual(1);
    expect(await held([...all, unseen.id])).toEqual([...all, unseen.id].sort());
  });

  it('exports budget figures per budget and reservations granted, refused and expired as metrics', async () => {
    const caller = await isolatedTeam();
    const team = await budget({ scope: 'TEAM', team: caller.team, limit: 2 });
    const r = data(await reserve(caller.key, { amount: 1.5 })).reserveCompute;
    expect(codeOf(await reserve(caller.key, { amount: 1 }))).toBe('BUDGET_EXHAUSTED');
    data(await t.gql(caller.key, SETTLE, { id: r.id, usage: usage({ cost: 0.25 }) }));
    const open = data(await reserve(caller.key, { amount: 0.5 })).reserveCompute;
    await dataSource.query(`UPDATE compute_reservations SET expires_at = now() - interval '1 second' WHERE id = $1`, [open.id]);
    const sweep = sweeper();
    await sweep.sweep();
    const scrape = await t.app.get(MetricsService).registry.metrics();
    const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(scrape)?.[1]);
    expect(value(`tokenpool_compute_budget_limit{budget="${team.id}"}`)).toBe(2);
    expect(value(`tokenpool_compute_budget_spent{budget="${team.id}"}`)).toBe(0.25);
    expect(value(`tokenpool_compute_budget_reserved{budget="${team.id}"}`)).toBe(0);
    for (const result of ['granted', 'refused', 'expired']) expect(value(`tokenpool_compute_reservations_total{result="${result}"}`)).toBeGreaterThanOrEqual(1);
  });

  it('a budget Redis lost the definition of (its epoch unchanged) is read back from PostgreSQL before it is shown or skipped', async () => {
    const own = await t.organization('budgets-lost-definition');
    const caller = await t.principalWithKey(own.adminKey, 'CLIENT', { name: 'a', kind: 'AGENT', team: 'ml' });
    const b = data(
      await t.gql<{ createComputeBudget: Budget }>(own.adminKey, CREATE, { input: { name: 'ml', scope: 'TEAM', team: 'ml', period: 'TOTAL', limit: 1 } }),
    ).createComputeBudget;
    const store = t.app.get(BudgetStore, { strict: false });
    await t.app.get(RedisService).client.hdel(store.keyBase(own.organizationId), `b|${b.id}`, 's|t:ml');
    expect(data(await t.gql<{ computeBudgets: Budget[] }>(own.adminKey, BUDGETS)).computeBudgets[0]).toMatchObject({ id: b.id, limit: 1, remaining: 1 });
    const refused = await t.gql(caller.key, RESERVE, { input: { provider: 'x', model: 'y', maxInputTokens: 0, maxOutputTokens: 0, amount: 2 } });
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BUDGET_EXHAUSTED', budgetId: b.id });
  });

  it('releases expired holds at the next reservation, a hold of 0 included, and keeps every figure whole', async () => {
    const own = await t.organization('budgets-expire-in-redis');
    const caller = await t.principalWithKey(own.adminKey, 'CLIENT', { name: 'a', kind: 'AGENT', team: 'ml' });
    const b = data(
      await t.gql<{ createComputeBudget: Budget }>(own.adminKey, CREATE, { input: { name: 'ml', scope: 'TEAM', team: 'ml', period: 'TOTAL', limit: 1 } }),
    ).createComputeBudget;
    const store = t.app.get(BudgetStore, { strict: false });
    const periods = t.app.get(BudgetClock, { strict: false }).periods();
    const subjects = ['o', `p:${caller.principalId}`, 't:ml'];
    const hold = (reservationId: string, amount: number, reservationMs: number) =>
      store.reserve({ organizationId: own.organizationId, reservationId, amount, reservationMs, periods, subjects });
    expect((await hold(randomUUID(), 0, 1)).status).toBe('OK');
    expect((await hold(randomUUID(), 600_000, 1)).status).toBe('OK');
    await new Promise((r) => setTimeout(r, 20));
    // Both ran out by Redis's clock: this reservation finds the whole limit free again.
    const full = await hold(randomUUID(), 1_000_000, 60_000);
    expect(full.status).toBe('OK');
    expect((await store.read(own.organizationId, periods, [b.id])).figures[0]).toEqual({ limit: 1_000_000, spent: 0, reserved: 1_000_000 });
  });

  it('counts unpriced usage into spent once a backdated price prices it, live and after a rebuild', async () => {
    const own = await t.organization('budgets-corrections');
    const caller = await t.principalWithKey(own.adminKey, 'CLIENT', { name: 'a', kind: 'AGENT', team: 'ml' });
    const b = data(
      await t.gql<{ createComputeBudget: Budget }>(own.adminKey, CREATE, { input: { name: 'ml', scope: 'TEAM', team: 'ml', period: 'TOTAL', limit: 10 } }),
    ).createComputeBudget;
    const model = { provider: 'acme', model: 'unpriced-at-first' };
    data(
      await t.gql(caller.key, RECORD, {
        events: [usage({ ...model, inputTokens: 1_000_000, outputTokens: 0, occurredAt: new Date(Date.now() - 60_000).toISOString() })],
      }),
    );
    const spent = async () => data(await t.gql<{ computeBudgets: Budget[] }>(own.adminKey, BUDGETS)).computeBudgets[0].spent;
    expect(await spent()).toBe(0);
    data(
      await t.gql(own.adminKey, PRICE, {
        input: { ...model, inputPerMillion: 3, outputPerMillion: 9, effectiveFrom: new Date(Date.now() - 3_600_000).toISOString() },
      }),
    );
    expect(await spent()).toBe(3);
    const store = t.app.get(BudgetStore, { strict: false });
    await t.app.get(RedisService).client.del(store.keyBase(own.organizationId));
    expect(await spent()).toBe(3);
    expect((await budgetsOf(own.adminKey)).get(b.id)).toMatchObject({ spent: 3, remaining: 7 });
  });

  it('prunes the Redis figures of periods that ended before yesterday or last month, keeping the current ones', async () => {
    const caller = await isolatedTeam();
    const daily = await budget({ scope: 'TEAM', team: caller.team, period: 'DAY', limit: 5 });
    data(await reserve(caller.key, { amount: 1 }));
    const store = t.app.get(BudgetStore, { strict: false });
    const redis = t.app.get(RedisService).client;
    const base = store.keyBase(org.organizationId);
    await redis.hset(base, `u|${daily.id}|d20200101`, '7', `sp|${daily.id}|d20200101`, '7', `u|${daily.id}|m202001`, '7');
    expect(await sweeper().prune(org.organizationId, true)).toBe(3);
    expect(await redis.hmget(base, `u|${daily.id}|d20200101`, `u|${daily.id}|m202001`)).toEqual([null, null]);
    expect((await budgetsOf(org.adminKey)).get(daily.id)).toMatchObject({ reserved: 1, remaining: 4 });
  });

  it('starts a new budget with what its scope already spent in the current period', async () => {
    const caller = await isolatedTeam();
    // The organization's budget state exists already (earlier tests made budgets): the new one must still count the past.
    data(
      await t.gql(caller.key, RECORD, {
        events: [usage({ cost: 0.4 }), usage({ cost: 0.1, occurredAt: new Date(Date.now() - 40 * 86_400_000).toISOString() })],
      }),
    );
    const monthly = await budget({ scope: 'TEAM', team: caller.team, period: 'MONTH', limit: 1 });
    const total = await budget({ scope: 'TEAM', team: caller.team, period: 'TOTAL', limit: 1 });
    expect(monthly).toMatchObject({ spent: 0.4, remaining: 0.6 });
    expect(total.spent).toBeCloseTo(0.5, 9);
    expect(codeOf(await reserve(caller.key, { amount: 0.55 }))).toBe('BUDGET_EXHAUSTED');
  });

  it('heals a spend Redis missed (a process that died between the commit and Redis): the worker compares it with PostgreSQL and rebuilds', async () => {
    const own = await t.organization('budgets-verify');
    const caller = await t.principalWithKey(own.adminKey, 'CLIENT', { name: 'a', kind: 'AGENT', team: 'ml' });
    const b = data(
      await t.gql<{ createComputeBudget: Budget }>(own.adminKey, CREATE, { input: { name: 'ml', scope: 'TEAM', team: 'ml', period: 'TOTAL', limit: 10 } }),
    ).createComputeBudget;
    // A price of 1.5 per million makes a cost of half a micro-unit: Redis and PostgreSQL must round it alike.
    data(
      await t.gql(own.adminKey, PRICE, {
        input: { provider: 'half', model: 'micro', inputPerMillion: 1.5, outputPerMillion: 0, effectiveFrom: new Date(Date.now() - 60_000).toISOString() },
      }),
    );
    data(await t.gql(caller.key, RECORD, { events: [usage({ cost: 2 }), usage({ provider: 'half', model: 'micro', inputTokens: 1, outputTokens: 0 })] }));
    const epoch = async () =>
      (await dataSource.query('SELECT epoch::text AS epoch FROM compute_budget_states WHERE organization_id = $1', [own.organizationId]))[0].epoch as string;
    expect(await sweeper().verifySpent(own.organizationId, await epoch(), true)).toBe(false);
    const store = t.app.get(BudgetStore, { strict: false });
    await t.app.get(RedisService).client.hincrby(store.keyBase(own.organizationId), `sp|${b.id}|t`, -2_000_000);
    expect((await budgetsOf(own.adminKey)).get(b.id)!.spent).toBeCloseTo(0.000002, 9);
    expect(await sweeper().verifySpent(own.organizationId, await epoch(), true)).toBe(true);
    expect((await budgetsOf(own.adminKey)).get(b.id)!.spent).toBeCloseTo(2.000002, 9);
  }, 15_000);
});
