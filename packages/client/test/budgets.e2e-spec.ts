import { randomUUID } from 'node:crypto';
import { TokenpoolClient, TokenpoolError } from '@tokenpool/client';
import { countingClient, portOf, startSwitchableProxy, useSdkWorld } from './fixtures';

const PROVIDER = 'openai';
const MODEL = 'gpt-sdk-budget';
const SET_PRICE = 'mutation($input: ModelPriceInput!) { setModelPrice(input: $input) }';
const CREATE_BUDGET = 'mutation($input: CreateComputeBudgetInput!) { createComputeBudget(input: $input) { id } }';
const WORK_UNIT = 'query($id: ID!) { workUnit(id: $id) { computeCost computeInputTokens computeOutputTokens } }';

/** Compute budgets through the SDK: reserveCompute, settleCompute, cancelReservation and withBudget against a real API process. */
describe('SDK compute budgets', () => {
  const world = useSdkWorld();

  beforeAll(async () => {
    // 2 per million input tokens, 8 per million output tokens: 1000 in + 1000 out hold 0.01.
    await world.admin.request(SET_PRICE, {
      input: { provider: PROVIDER, model: MODEL, inputPerMillion: 2, outputPerMillion: 8, effectiveFrom: new Date(Date.now() - 60_000).toISOString() },
    });
  });

  /** A work unit of its own with a WORK_UNIT budget of `limit`, so each test's figures are its own. */
  async function unitWithBudget(limit: number): Promise<{ workUnitId: string; budgetId: string }> {
    const unit = await world.admin.upsertWorkUnit({ externalRef: `budget-${randomUUID()}`, process: 'sdk-budgets' });
    const { createComputeBudget } = await world.admin.request<{ createComputeBudget: { id: string } }>(CREATE_BUDGET, {
      input: { name: `b-${randomUUID()}`, scope: 'WORK_UNIT', workUnitId: unit.id, period: 'TOTAL', limit },
    });
    return { workUnitId: unit.id, budgetId: createComputeBudget.id };
  }

  async function figures(budgetId: string) {
    const found = (await world.admin.computeBudgets()).find((b) => b.id === budgetId);
    if (!found) throw new Error(`no budget ${budgetId}`);
    return found;
  }

  function call(workUnitId: string, bounds: { maxInputTokens?: number; maxOutputTokens?: number; amount?: number } = {}) {
    return { provider: PROVIDER, model: MODEL, maxInputTokens: 1000, maxOutputTokens: 1000, workUnitId, ...bounds };
  }

  it('reserves the priced bounds, settles below the hold, and charges a cost above the hold in full', async () => {
    const { workUnitId, budgetId } = await unitWithBudget(1);
    const reservation = await world.admin.reserveCompute(call(workUnitId));
    expect(reservation).toMatchObject({ state: 'OPEN', settledCost: null, workUnitId });
    expect(reservation.amount).toBeCloseTo(0.01, 9);
    expect(reservation.expiresAt).toBeInstanceOf(Date);
    expect(reservation.expiresAt.getTime()).toBeGreaterThan(Date.now() + 200_000); // the default 300 s
    expect(reservation.budgets).toEqual([expect.objectContaining({ id: budgetId, scope: 'WORK_UNIT', limit: 1, reserved: 0.01, spent: 0, remaining: 0.99 })]);

    // 1000 x 2/M + 500 x 8/M = 0.006
    const settled = await world.admin.settleCompute(reservation.id, { provider: PROVIDER, model: MODEL, inputTokens: 1000, outputTokens: 500 });
    expect(settled).toMatchObject({ id: reservation.id, state: 'SETTLED' });
    expect(settled.settledCost).toBeCloseTo(0.006, 9);
    expect(await figures(budgetId)).toMatchObject({ spent: 0.006, reserved: 0, remaining: 0.994 });

    const small = await world.admin.reserveCompute(call(workUnitId, { maxInputTokens: 10, maxOutputTokens: 10, amount: 0.02 }));
    expect(small.amount).toBe(0.02);
    const above = await world.admin.settleCompute(small.id, { provider: PROVIDER, model: MODEL, inputTokens: 10, outputTokens: 10, cost: 0.05 });
    expect(above).toMatchObject({ state: 'SETTLED', amount: 0.02, settledCost: 0.05 });
    expect(await figures(budgetId)).toMatchObject({ spent: 0.056, reserved: 0 });

    // Settled already, with another eventId: LEASE_NOT_ACTIVE, state SETTLED.
    const again = await world.admin
      .settleCompute(small.id, { provider: PROVIDER, model: MODEL, inputTokens: 1, outputTokens: 1, cost: 0.01 })
      .catch((e: unknown) => e);
    expect(again).toBeInstanceOf(TokenpoolError);
    expect(again).toMatchObject({ code: 'LEASE_NOT_ACTIVE', state: 'SETTLED' });
    expect(await figures(budgetId)).toMatchObject({ spent: 0.056 });
  });

  it('throws BUDGET_EXHAUSTED with budgetId, remaining and requested, at once and without a retry', async () => {
    const { workUnitId, budgetId } = await unitWithBudget(0.005);
    const { client, sent } = countingClient({ url: world.api.url, apiKey: world.adminKey }, 'ReserveCompute');
    try {
      const err = await client.reserveCompute(call(workUnitId)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TokenpoolError);
      const refusal = err as TokenpoolError;
      expect(refusal.code).toBe('BUDGET_EXHAUSTED');
      expect(refusal.budgetId).toBe(budgetId);
      expect(refusal.remaining).toBe(0.005);
      expect(refusal.requested).toBeCloseTo(0.01, 9);
      expect(refusal.extensions).toMatchObject({ code: 'BUDGET_EXHAUSTED', budgetId, remaining: 0.005 });
      expect(sent).toHaveLength(1);
      expect(await figures(budgetId)).toMatchObject({ reserved: 0, spent: 0, remaining: 0.005 });
    } finally {
      await client.close();
    }
  });

  it('withBudget holds while the callback runs, settles with the usage it returns, and resolves to its result', async () => {
    const { workUnitId, budgetId } = await unitWithBudget(1);
    let seen: { id: string; state: string; reservedDuringCall: number } | undefined;
    const answer = await world.admin.withBudget(call(workUnitId, { maxOutputTokens: 2000 }), async (reservation) => {
      seen = { id: reservation.id, state: reservation.state, reservedDuringCall: (await figures(budgetId)).reserved };
      return { result: 'the model said hi', usage: { inputTokens: 800, outputTokens: 250, cachedInputTokens: 100 } };
    });
    expect(answer).toBe('the model said hi');
    // 1000 x 2/M + 2000 x 8/M = 0.018 held during the call; 800 x 2/M + 250 x 8/M = 0.0036 charged.
    expect(seen!.state).toBe('OPEN');
    expect(seen!.reservedDuringCall).toBeCloseTo(0.018, 9);
    const settled = await world.admin.reservation(seen!.id);
    expect(settled).toMatchObject({ state: 'SETTLED', workUnitId });
    expect(settled!.settledCost).toBeCloseTo(0.0036, 9);
    expect(await figures(budgetId)).toMatchObject({ reserved: 0, spent: 0.0036 });
    const { workUnit } = await world.admin.request<{ workUnit: { computeCost: number; computeInputTokens: number; computeOutputTokens: number } }>(WORK_UNIT, {
      id: workUnitId,
    });
    expect(workUnit).toEqual({ computeCost: 0.0036, computeInputTokens: 800, computeOutputTokens: 250 });
  });

  it('withBudget cancels the reservation when the callback throws, and rethrows its error', async () => {
    const { workUnitId, budgetId } = await unitWithBudget(1);
    const failure = new Error('the model provider answered 500');
    let reservationId: string | undefined;
    let reservedDuringCall: number | undefined;
    const thrown = await world.admin
      .withBudget(call(workUnitId), async (reservation) => {
        reservationId = reservation.id;
        reservedDuringCall = (await figures(budgetId)).reserved;
        throw failure;
      })
      .catch((e: unknown) => e);
    expect(thrown).toBe(failure);
    expect(reservedDuringCall).toBeCloseTo(0.01, 9);
    expect(await world.admin.reservation(reservationId!)).toMatchObject({ state: 'CANCELLED', settledCost: null });
    expect(await figures(budgetId)).toMatchObject({ reserved: 0, spent: 0, remaining: 1 });
  });

  it('retries reserveCompute and settleCompute whose answers were lost with the same idempotency key and eventId: one hold, one charge', async () => {
    const { workUnitId, budgetId } = await unitWithBudget(1);
    const proxy = await startSwitchableProxy(portOf(world.api.url));
    const reserves = countingClient({ url: proxy.url, apiKey: world.adminKey }, 'ReserveCompute');
    try {
      proxy.dropNextAnswers(1); // reserved on the server, and the answer never arrives
      const reservation = await reserves.client.reserveCompute(call(workUnitId));
      expect(reserves.sent).toHaveLength(2);
      expect(reserves.failed()).toBe(1);
      expect(await figures(budgetId)).toMatchObject({ reserved: 0.01 }); // held once, not twice

      proxy.dropNextAnswers(1); // settled on the server, and the answer never arrives
      const settled = await reserves.client.settleCompute(reservation.id, { provider: PROVIDER, model: MODEL, inputTokens: 1000, outputTokens: 1000 });
      expect(settled).toMatchObject({ id: reservation.id, state: 'SETTLED', settledCost: 0.01 });
      expect(reserves.failed()).toBe(2);
      expect(await figures(budgetId)).toMatchObject({ reserved: 0, spent: 0.01 }); // charged once
    } finally {
      await reserves.client.close();
      await proxy.close();
    }

    // An explicit key: the same reservation for the same arguments, IDEMPOTENCY_CONFLICT for others.
    const idempotencyKey = `agent-step-${randomUUID()}`;
    const first = await world.admin.reserveCompute({ ...call(workUnitId), idempotencyKey });
    const second = await world.admin.reserveCompute({ ...call(workUnitId), idempotencyKey });
    expect(second.id).toBe(first.id);
    expect(await figures(budgetId)).toMatchObject({ reserved: 0.01 });
    await expect(world.admin.reserveCompute({ ...call(workUnitId, { maxOutputTokens: 5 }), idempotencyKey })).rejects.toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
    });
    expect((await world.admin.cancelReservation(first.id)).state).toBe('CANCELLED');
    expect((await world.admin.cancelReservation(first.id)).state).toBe('CANCELLED');
    expect(await figures(budgetId)).toMatchObject({ reserved: 0, spent: 0.01 });
  });

  it('withBudget hands the usage to the usage buffer when the settlement cannot reach the server, so it is still counted once', async () => {
    const { workUnitId, budgetId } = await unitWithBudget(1);
    const proxy = await startSwitchableProxy(portOf(world.api.url));
    const errors: TokenpoolError[] = [];
    const client = new TokenpoolClient({ url: proxy.url, apiKey: world.adminKey, retryDeadlineMs: 1_500, onError: (e) => errors.push(e) });
    try {
      let reservationId: string | undefined;
      const answer = await client.withBudget(call(workUnitId), async (reservation) => {
        reservationId = reservation.id;
        proxy.retarget(1); // nothing listens there: the settlement cannot get through
        proxy.drop();
        return { result: 42, usage: { inputTokens: 1000, outputTokens: 500 } };
      });
      expect(answer).toBe(42);
      expect(errors).toEqual([expect.objectContaining({ code: 'UNAVAILABLE' })]);
      expect(errors[0].message).toContain(reservationId!);
      proxy.retarget(portOf(world.api.url));
      await client.flushUsage({ retryDeadlineMs: 15_000 });
      // Recorded once through recordComputeUsage (into spent); the reservation still holds until it lapses.
      expect(await figures(budgetId)).toMatchObject({ spent: 0.006, reserved: 0.01 });
      expect(await world.admin.reservation(reservationId!)).toMatchObject({ state: 'OPEN' });
      await world.admin.cancelReservation(reservationId!);
      expect(await figures(budgetId)).toMatchObject({ spent: 0.006, reserved: 0 });
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});
