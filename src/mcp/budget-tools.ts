import { Injectable } from '@nestjs/common';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { ComputeBudget, ComputeReservation } from '../budgets/budget.model';
import { BudgetsService } from '../budgets/budgets.service';
import { MAX_RESERVATION_SECONDS, MIN_RESERVATION_SECONDS, ReservationsService } from '../budgets/reservations.service';
import { McpMetrics } from './mcp-metrics';
import type { McpSession } from './mcp-session';
import { runTool, WRITERS } from './tool-runner';
import type { ToolAnswer } from './tool-result';
import { WorkUnitRefs } from './work-unit-refs';

const TOKENS = 1_000_000_000;
const name = z.string().min(1).max(255);
const reservationId = z.string().min(1).max(255).describe('The reservationId that reserve_compute answered.');

const RESERVE_REFUSALS =
  "A refusal comes back with isError and structuredContent.code: BUDGET_EXHAUSTED means a compute budget has too little left for this call and nothing was held; structuredContent has budgetId, remaining (what that budget has left) and requested (what this call needed). Do not retry the same call: reserve again with a smaller maxOutputTokens (or a shorter prompt) so that requested fits in remaining, wait for the budget's next period, or tell the user the budget is spent. BAD_USER_INPUT with field input.amount means the model has no price: call again with amount (your estimate of the cost). IDEMPOTENCY_CONFLICT means the idempotencyKey was used for other arguments: use a new key. NOT_FOUND, FORBIDDEN (tell the user), RATE_LIMITED or UNAVAILABLE (retry after retryAfterSeconds, with the same idempotencyKey).";

/** The compute-budget tools: reserve_compute, settle_compute, cancel_reservation (docs/budgets.md). */
@Injectable()
export class BudgetTools {
  constructor(
    private readonly reservations: ReservationsService,
    private readonly budgets: BudgetsService,
    private readonly refs: WorkUnitRefs,
    private readonly metrics: McpMetrics,
  ) {}

  register(server: McpServer, session: McpSession): void {
    const run = <A>(tool: string, work: (args: A) => Promise<ToolAnswer>) => runTool<A>(session, this.metrics, tool, WRITERS, work);

    server.registerTool(
      'reserve_compute',
      {
        description: `Reserves the cost of ONE model call on your organization's compute budgets before you make it: the most the call may cost (maxInputTokens at the model's input price plus maxOutputTokens at its output price, or amount) is held on every budget that applies to you (the organization's, your team's, your own and the work unit's), all at once. Call it right before every model call; then make the call with at most maxOutputTokens, and call settle_compute with the real token counts right after it, or cancel_reservation if you did not make the call. An unsettled reservation is released when it expires (reservationSeconds). The answer is the reservation: reservationId (pass it to settle_compute), state OPEN, amount held, expiresAt, and the budgets it holds with their limit, spent, reserved and remaining. ${RESERVE_REFUSALS}`,
        inputSchema: {
          provider: name.describe('The model provider, e.g. "anthropic", "openai", "self-hosted".'),
          model: name.describe('The model you are about to call, as the price table names it.'),
          maxInputTokens: z.number().int().min(0).max(TOKENS).describe('The tokens of the prompt you will send (or an upper bound).'),
          maxOutputTokens: z.number().int().min(0).max(TOKENS).describe('The max_tokens you will pass to the model: the call cannot produce more.'),
          amount: z
            .number()
            .min(0)
            .max(TOKENS)
            .optional()
            .describe("Hold this amount (in the organization's currency) instead of pricing the token bounds; needed only when the model has no price."),
          workUnit: name
            .optional()
            .describe(
              'The externalRef of the work unit the call is for (created if it does not exist): its budget applies too, and the usage is charged to it.',
            ),
          reservationSeconds: z
            .number()
            .int()
            .min(MIN_RESERVATION_SECONDS)
            .max(MAX_RESERVATION_SECONDS)
            .optional()
            .describe(
              `How long the hold lasts unless settled or cancelled, ${MIN_RESERVATION_SECONDS} to ${MAX_RESERVATION_SECONDS} seconds (default 300). Longer than the model call takes.`,
            ),
          idempotencyKey: name
            .optional()
            .describe(
              'Your id for this reservation: calling again with the same key and arguments (after a timeout, say) returns the same reservation instead of holding twice.',
            ),
        },
        annotations: { idempotentHint: false },
      },
      run<{
        provider: string;
        model: string;
        maxInputTokens: number;
        maxOutputTokens: number;
        amount?: number;
        workUnit?: string;
        reservationSeconds?: number;
        idempotencyKey?: string;
      }>('reserve_compute', async (args) => {
        const workUnitId = args.workUnit === undefined ? null : await this.refs.idOf(session.auth, args.workUnit, 'workUnit');
        const reservation = await this.reservations.reserve(session.auth, {
          provider: args.provider,
          model: args.model,
          maxInputTokens: args.maxInputTokens,
          maxOutputTokens: args.maxOutputTokens,
          amount: args.amount ?? null,
          workUnitId,
          reservationSeconds: args.reservationSeconds ?? null,
          idempotencyKey: args.idempotencyKey ?? null,
        });
        return { reservation: await this.describe(reservation) };
      }),
    );

    server.registerTool(
      'settle_compute',
      {
        description:
          "Settles a reservation with what the model call really used, right after the call: the usage is recorded in the ledger (as record_usage would, on the reservation's work unit), its real cost is charged to the reservation's budgets (in full, even when it exceeds the amount held) and the rest of the hold is released. Use it instead of record_usage for a call you reserved. provider and model default to the reservation's. The answer is the reservation, state SETTLED, with settledCost and the budgets' figures after the charge. Calling it again for the same reservation with the same eventId (the default eventId is derived from the reservationId) answers the settled reservation again and charges nothing twice. A reservation that EXPIRED can still be settled. Refusals (isError, structuredContent.code): NOT_FOUND (no reservation with this id of yours), LEASE_NOT_ACTIVE with state CANCELLED or SETTLED (it was cancelled, or settled with another eventId: nothing to do, or record the usage with record_usage), BAD_USER_INPUT with field (fix that argument), RATE_LIMITED or UNAVAILABLE (retry after retryAfterSeconds with the same arguments).",
        inputSchema: {
          reservationId,
          inputTokens: z.number().int().min(0).max(TOKENS).describe('Input tokens the call used, cached ones included.'),
          outputTokens: z.number().int().min(0).max(TOKENS).describe('Output tokens the call produced, reasoning ones included.'),
          cachedInputTokens: z.number().int().min(0).max(TOKENS).optional().describe('The part of inputTokens read from a cache.'),
          reasoningOutputTokens: z.number().int().min(0).max(TOKENS).optional().describe('The part of outputTokens spent reasoning.'),
          cost: z
            .number()
            .min(0)
            .max(TOKENS)
            .optional()
            .describe("The call's real cost in the organization's currency, when you know it; else it is priced from the model price table."),
          provider: name.optional().describe("Default: the reservation's provider."),
          model: name.optional().describe("The model that answered, when it differs from the one reserved. Default: the reservation's model."),
          eventId: name
            .optional()
            .describe('Your id for the usage record; the same eventId is counted once. Default: one derived from reservationId, so a retry is safe.'),
        },
        annotations: { idempotentHint: true },
      },
      run<{
        reservationId: string;
        inputTokens: number;
        outputTokens: number;
        cachedInputTokens?: number;
        reasoningOutputTokens?: number;
        cost?: number;
        provider?: string;
        model?: string;
        eventId?: string;
      }>('settle_compute', async (args) => {
        // Provider, model and work unit default to the reservation's (ReservationsService.settle).
        const reservation = await this.reservations.settle(session.auth, args.reservationId, {
          eventId: args.eventId ?? `reservation-${args.reservationId}`,
          provider: args.provider,
          model: args.model,
          inputTokens: args.inputTokens,
          outputTokens: args.outputTokens,
          cachedInputTokens: args.cachedInputTokens ?? null,
          reasoningOutputTokens: args.reasoningOutputTokens ?? null,
          cost: args.cost ?? null,
          occurredAt: new Date(),
        });
        return { reservation: await this.describe(reservation) };
      }),
    );

    server.registerTool(
      'cancel_reservation',
      {
        description:
          'Releases a reservation at once when you did not make the model call after all (it failed before reaching the model, or you changed your mind): the amount held goes back to the budgets. Do not cancel after a call that reached the model: settle_compute it with the tokens it used. Idempotent: cancelling a cancelled reservation answers it again. Refusals (isError, structuredContent.code): NOT_FOUND (no reservation with this id of yours), LEASE_NOT_ACTIVE with state SETTLED or EXPIRED (nothing is held any more: nothing to do).',
        inputSchema: { reservationId },
        annotations: { idempotentHint: true },
      },
      run<{ reservationId: string }>('cancel_reservation', async (args) => ({
        reservation: await this.describe(await this.reservations.cancel(session.auth, args.reservationId)),
      })),
    );
  }

  private async describe(reservation: ComputeReservation): Promise<ToolAnswer> {
    const budgets = await this.budgets.byIds(reservation.organizationId, reservation.budgetIds);
    return {
      reservationId: reservation.id,
      state: reservation.state,
      amount: reservation.amount,
      expiresAt: reservation.expiresAt.toISOString(),
      settledCost: reservation.settledCost,
      workUnitId: reservation.workUnitId,
      budgets: budgets.map(budgetView),
    };
  }
}

function budgetView(budget: ComputeBudget): ToolAnswer {
  return {
    id: budget.id,
    name: budget.name,
    scope: budget.scope,
    period: budget.period,
    limit: budget.limit,
    spent: budget.spent,
    reserved: budget.reserved,
    remaining: budget.remaining,
  };
}
