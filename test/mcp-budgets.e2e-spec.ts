import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { GqlResult, TestApp } from './support/app';
import { ApiProcess, startApi } from './support/processes';

const BUDGET_TOOLS = ['cancel_reservation', 'reserve_compute', 'settle_compute'];
const CREATE_BUDGET = 'mutation($input: CreateComputeBudgetInput!) { createComputeBudget(input: $input) { id } }';
const BUDGETS = '{ computeBudgets { id limit spent reserved remaining } }';
const PRICE = 'mutation($input: ModelPriceInput!) { setModelPrice(input: $input) }';
const RESERVATION = 'query($id: ID!) { reservation(id: $id) { id state amount settledCost } }';
const WORK_UNIT = 'query($id: ID!) { workUnit(id: $id) { externalRef computeCost computeInputTokens computeOutputTokens } }';

type ToolAnswer = { isError?: boolean; structuredContent?: Record<string, unknown> };
interface Budget {
  id: string;
  limit: number;
  spent: number;
  reserved: number;
  remaining: number;
}
interface Reservation {
  reservationId: string;
  state: string;
  amount: number;
  expiresAt: string;
  settledCost: number | null;
  workUnitId: string | null;
  budgets: Budget[];
}

function data<T>(res: GqlResult<T>): T {
  if (!res.data) throw new Error(JSON.stringify(res.errors));
  return res.data;
}

/** reserve_compute, settle_compute and cancel_reservation through the MCP server, checked against GraphQL's figures. */
describe('MCP compute-budget tools', () => {
  let t: TestApp;
  let api: ApiProcess;
  let org: { organizationId: string; adminKey: string };
  const clients: Client[] = [];

  async function connect(key: string): Promise<Client> {
    const transport = new StreamableHTTPClientTransport(new URL(`${api.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } });
    const client = new Client({ name: 'mcp-budgets-e2e', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
    return (await client.callTool({ name, arguments: args })) as ToolAnswer;
  }

  /** A CLIENT agent of its own with a PRINCIPAL budget of `limit`, connected over MCP. */
  async function agentWithBudget(limit: number): Promise<{ client: Client; key: string; principalId: string; budgetId: string }> {
    const agent = await t.principalWithKey(org.adminKey, 'CLIENT', { kind: 'AGENT', name: `agent-${randomUUID()}` });
    const budget = data(
      await t.gql<{ createComputeBudget: { id: string } }>(org.adminKey, CREATE_BUDGET, {
        input: { name: `b-${randomUUID()}`, scope: 'PRINCIPAL', principalId: agent.principalId, period: 'TOTAL', limit },
      }),
    ).createComputeBudget;
    return { client: await connect(agent.key), key: agent.key, principalId: agent.principalId, budgetId: budget.id };
  }

  async function budgetFigures(id: string): Promise<Budget> {
    const list = data(await t.gql<{ computeBudgets: Budget[] }>(org.adminKey, BUDGETS)).computeBudgets;
    const found = list.find((b) => b.id === id);
    if (!found) throw new Error(`no budget ${id}`);
    return found;
  }

  beforeAll(async () => {
    t = await TestApp.start();
    api = await startApi();
    org = await t.organization('mcp-budgets');
    // 2 per million input tokens, 8 per million output tokens.
    data(
      await t.gql(org.adminKey, PRICE, {
        input: { provider: 'openai', model: 'gpt-mcp', inputPerMillion: 2, outputPerMillion: 8, effectiveFrom: new Date(Date.now() - 60_000).toISOString() },
      }),
    );
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await api?.stop();
    await t?.close();
  });

  it('lists reserve_compute, settle_compute and cancel_reservation with their input schemas and descriptions for a model', async () => {
    const { client } = await agentWithBudget(1);
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    for (const name of BUDGET_TOOLS) {
      const tool = byName.get(name);
      expect(tool).toBeDefined();
      expect(tool!.inputSchema.type).toBe('object');
      expect(tool!.description!.length).toBeGreaterThan(200);
    }
    const reserve = byName.get('reserve_compute')!;
    expect(reserve.inputSchema.required).toEqual(['provider', 'model', 'maxInputTokens', 'maxOutputTokens']);
    expect(Object.keys(reserve.inputSchema.properties!).sort()).toEqual(
      ['amount', 'idempotencyKey', 'maxInputTokens', 'maxOutputTokens', 'model', 'provider', 'reservationSeconds', 'workUnit'].sort(),
    );
    expect(reserve.description).toMatch(/BUDGET_EXHAUSTED/);
    expect(reserve.description).toMatch(/settle_compute/);
    const settle = byName.get('settle_compute')!;
    expect(settle.inputSchema.required).toEqual(['reservationId', 'inputTokens', 'outputTokens']);
    expect(settle.inputSchema.properties).toHaveProperty('cachedInputTokens');
    expect(settle.inputSchema.properties).toHaveProperty('reasoningOutputTokens');
    expect(byName.get('cancel_reservation')!.inputSchema.required).toEqual(['reservationId']);

    // An argument outside its schema is an isError result, not a protocol error.
    const invalid = await call(client, 'reserve_compute', { provider: 'openai', model: 'gpt-mcp', maxInputTokens: -1, maxOutputTokens: 10 });
    expect(invalid.isError).toBe(true);
  });

  it('reserve then settle moves the budget figures as GraphQL reads them, charges the work unit, and a repeated settle charges nothing more', async () => {
    const agent = await agentWithBudget(1);
    const ref = `mcp-budget-${randomUUID()}`;
    const reserved = await call(agent.client, 'reserve_compute', {
      provider: 'openai',
      model: 'gpt-mcp',
      maxInputTokens: 1000,
      maxOutputTokens: 1000,
      workUnit: ref,
    });
    expect(reserved.isError).toBeFalsy();
    const reservation = reserved.structuredContent!.reservation as Reservation;
    // 1000 x 2/M + 1000 x 8/M = 0.01
    expect(reservation).toMatchObject({ state: 'OPEN', settledCost: null });
    expect(reservation.amount).toBeCloseTo(0.01, 9);
    expect(new Date(reservation.expiresAt).getTime()).toBeGreaterThan(Date.now());
    expect(reservation.budgets).toEqual([expect.objectContaining({ id: agent.budgetId, reserved: 0.01, spent: 0, remaining: 0.99 })]);
    expect(await budgetFigures(agent.budgetId)).toMatchObject({ reserved: 0.01, spent: 0, remaining: 0.99 });

    // 1000 x 2/M + 500 x 8/M = 0.006, below the hold; provider and model come from the reservation.
    const settled = await call(agent.client, 'settle_compute', { reservationId: reservation.reservationId, inputTokens: 1000, outputTokens: 500 });
    expect(settled.isError).toBeFalsy();
    const after = settled.structuredContent!.reservation as Reservation;
    expect(after).toMatchObject({ reservationId: reservation.reservationId, state: 'SETTLED', workUnitId: reservation.workUnitId });
    expect(after.settledCost).toBeCloseTo(0.006, 9);
    expect(await budgetFigures(agent.budgetId)).toMatchObject({ reserved: 0, spent: 0.006, remaining: 0.994 });
    const unit = data(
      await t.gql<{ workUnit: { externalRef: string; computeCost: number; computeInputTokens: number; computeOutputTokens: number } }>(
        org.adminKey,
        WORK_UNIT,
        { id: reservation.workUnitId },
      ),
    ).workUnit;
    expect(unit).toEqual({ externalRef: ref, computeCost: 0.006, computeInputTokens: 1000, computeOutputTokens: 500 });

    // A retried settle (same default eventId) answers the settled reservation and charges nothing twice.
    const again = await call(agent.client, 'settle_compute', { reservationId: reservation.reservationId, inputTokens: 1000, outputTokens: 500 });
    expect(again.isError).toBeFalsy();
    expect((again.structuredContent!.reservation as Reservation).state).toBe('SETTLED');
    expect(await budgetFigures(agent.budgetId)).toMatchObject({ reserved: 0, spent: 0.006 });

    // A real cost above the hold is charged in full.
    const second = (
      await call(agent.client, 'reserve_compute', { provider: 'openai', model: 'gpt-mcp', maxInputTokens: 10, maxOutputTokens: 10, amount: 0.02 })
    ).structuredContent!.reservation as Reservation;
    expect(second.amount).toBe(0.02);
    const over = await call(agent.client, 'settle_compute', { reservationId: second.reservationId, inputTokens: 10, outputTokens: 10, cost: 0.05 });
    expect(over.structuredContent!.reservation).toMatchObject({ state: 'SETTLED', settledCost: 0.05 });
    expect(await budgetFigures(agent.budgetId)).toMatchObject({ reserved: 0, spent: 0.056 });
  });

  it('refuses a reservation the budget cannot hold as isError BUDGET_EXHAUSTED with budgetId, remaining and requested, holding nothing', async () => {
    const agent = await agentWithBudget(0.005);
    const refused = await call(agent.client, 'reserve_compute', { provider: 'openai', model: 'gpt-mcp', maxInputTokens: 1000, maxOutputTokens: 1000 });
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toMatchObject({ code: 'BUDGET_EXHAUSTED', budgetId: agent.budgetId, remaining: 0.005, requested: 0.01 });
    expect(refused.structuredContent!.message).toEqual(expect.any(String));
    expect(await budgetFigures(agent.budgetId)).toMatchObject({ reserved: 0, spent: 0, remaining: 0.005 });

    // Smaller bounds fit: 1000 x 2/M + 250 x 8/M = 0.004.
    const smaller = await call(agent.client, 'reserve_compute', { provider: 'openai', model: 'gpt-mcp', maxInputTokens: 1000, maxOutputTokens: 250 });
    expect(smaller.isError).toBeFalsy();
    expect(await budgetFigures(agent.budgetId)).toMatchObject({ reserved: 0.004, remaining: 0.001 });

    // No price and no amount: BAD_USER_INPUT naming input.amount.
    const unpriced = await call(agent.client, 'reserve_compute', { provider: 'openai', model: 'no-such-price', maxInputTokens: 10, maxOutputTokens: 10 });
    expect(unpriced).toMatchObject({ isError: true, structuredContent: { code: 'BAD_USER_INPUT', field: 'input.amount' } });
  });

  it('cancel_reservation releases the hold at once, is idempotent, and a cancelled reservation cannot be settled', async () => {
    const agent = await agentWithBudget(1);
    const reservation = (
      await call(agent.client, 'reserve_compute', { provider: 'openai', model: 'gpt-mcp', maxInputTokens: 0, maxOutputTokens: 0, amount: 0.7 })
    ).structuredContent!.reservation as Reservation;
    expect(await budgetFigures(agent.budgetId)).toMatchObject({ reserved: 0.7 });
    const cancelled = await call(agent.client, 'cancel_reservation', { reservationId: reservation.reservationId });
    expect(cancelled.structuredContent!.reservation).toMatchObject({ state: 'CANCELLED' });
    expect(await budgetFigures(agent.budgetId)).toMatchObject({ reserved: 0, spent: 0, remaining: 1 });
    expect((await call(agent.client, 'cancel_reservation', { reservationId: reservation.reservationId })).structuredContent!.reservation).toMatchObject({
      state: 'CANCELLED',
    });
    const late = await call(agent.client, 'settle_compute', { reservationId: reservation.reservationId, inputTokens: 1, outputTokens: 1 });
    expect(late).toMatchObject({ isError: true, structuredContent: { code: 'LEASE_NOT_ACTIVE', state: 'CANCELLED' } });
  });

  it("answers NOT_FOUND for another principal's reservation and leaves it held; a VIEWER may not reserve", async () => {
    const owner = await agentWithBudget(1);
    const stranger = await agentWithBudget(1);
    const reservation = (
      await call(owner.client, 'reserve_compute', { provider: 'openai', model: 'gpt-mcp', maxInputTokens: 0, maxOutputTokens: 0, amount: 0.3 })
    ).structuredContent!.reservation as Reservation;

    const settle = await call(stranger.client, 'settle_compute', { reservationId: reservation.reservationId, inputTokens: 1, outputTokens: 1, cost: 0.1 });
    expect(settle).toMatchObject({ isError: true, structuredContent: { code: 'NOT_FOUND' } });
    const cancel = await call(stranger.client, 'cancel_reservation', { reservationId: reservation.reservationId });
    expect(cancel).toMatchObject({ isError: true, structuredContent: { code: 'NOT_FOUND' } });
    const bogus = await call(stranger.client, 'settle_compute', { reservationId: 'not-a-reservation', inputTokens: 1, outputTokens: 1 });
    expect(bogus).toMatchObject({ isError: true, structuredContent: { code: 'NOT_FOUND' } });

    const still = data(
      await t.gql<{ reservation: { state: string; settledCost: number | null } }>(org.adminKey, RESERVATION, { id: reservation.reservationId }),
    ).reservation;
    expect(still).toMatchObject({ state: 'OPEN', settledCost: null });
    expect(await budgetFigures(owner.budgetId)).toMatchObject({ reserved: 0.3, spent: 0 });
    expect(await budgetFigures(stranger.budgetId)).toMatchObject({ reserved: 0, spent: 0 });

    const viewer = await t.principalWithKey(org.adminKey, 'VIEWER');
    const forbidden = await call(await connect(viewer.key), 'reserve_compute', { provider: 'openai', model: 'gpt-mcp', maxInputTokens: 1, maxOutputTokens: 1 });
    expect(forbidden).toMatchObject({ isError: true, structuredContent: { code: 'FORBIDDEN' } });
  });
});
