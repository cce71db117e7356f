import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { ComputeUsageService } from '../compute-usage/compute-usage.service';
import type { WorkUnit } from '../work-units/work-unit.model';
import { OutcomesService } from '../work-units/outcomes.service';
import { WorkUnitsService } from '../work-units/work-units.service';
import { McpMetrics } from './mcp-metrics';
import type { McpSession } from './mcp-session';
import { runTool, WRITERS } from './tool-runner';
import type { ToolAnswer } from './tool-result';
import { WorkUnitRefs } from './work-unit-refs';

const workUnit = z.string().min(1).max(255);
const OUTCOMES = ['PENDING', 'ACCEPTED', 'REJECTED'] as const;
const VALUE_DIMENSIONS = ['REVENUE', 'MARGIN', 'LOSS_AVOIDED', 'THROUGHPUT', 'QUALITY', 'CYCLE_TIME', 'RESILIENCE', 'STRATEGIC'] as const;
const TOKENS = 1_000_000_000;

/** The ledger tools: start_work_unit, record_usage, record_outcome. */
@Injectable()
export class LedgerTools {
  constructor(
    private readonly workUnits: WorkUnitsService,
    private readonly refs: WorkUnitRefs,
    private readonly usage: ComputeUsageService,
    private readonly outcomes: OutcomesService,
    private readonly metrics: McpMetrics,
  ) {}

  register(server: McpServer, session: McpSession): void {
    server.registerTool(
      'start_work_unit',
      {
        description:
          'Starts (or updates) the work unit your task belongs to, named by your own externalRef: the license credits you check out for it and the model tokens you record on it are added up on it, and its outcome says whether the work paid off. Call it once when you begin a task; calling it again with the same externalRef changes the fields you pass. FORBIDDEN means another principal owns that work unit and you tried to change its team or process.',
        inputSchema: {
          externalRef: workUnit.describe('Your id for the work, e.g. a ticket or job id (1 to 255 characters). Other tools name the work unit by it.'),
          process: z.string().min(1).max(255).optional().describe('The business process or product it serves.'),
          task: z.string().min(1).max(255).optional().describe('The task within the process.'),
          team: z.string().min(1).max(100).optional().describe('The team doing the work.'),
        },
        annotations: { idempotentHint: true },
      },
      runTool<{ externalRef: string; process?: string; task?: string; team?: string }>(session, this.metrics, 'start_work_unit', WRITERS, async (args) => ({
        workUnit: describe(await this.workUnits.upsert(session.auth, args)),
      })),
    );

    server.registerTool(
      'record_usage',
      {
        description:
          "Records the tokens one model call used, in the same ledger as the license credits, on a work unit when you name one. Call it after each model call (or a batch of them, summed). Without cost, it is priced from the organization's model price table. Pass an eventId to make a retry safe: the same eventId is counted once. BAD_USER_INPUT names the field that is wrong.",
        inputSchema: {
          provider: z.string().min(1).max(255).describe('The model provider, e.g. "anthropic", "openai", "self-hosted".'),
          model: z.string().min(1).max(255).describe('The model, as the provider names it in its response.'),
          inputTokens: z.number().int().min(0).max(TOKENS).describe('Input tokens, cached ones included.'),
          outputTokens: z.number().int().min(0).max(TOKENS).describe('Output tokens, reasoning ones included.'),
          cachedInputTokens: z.number().int().min(0).max(TOKENS).optional().describe('The part of inputTokens read from a cache.'),
          cost: z.number().min(0).max(TOKENS).optional().describe("The call's cost in the organization's currency, when you know it."),
          workUnit: workUnit.optional().describe('The externalRef of the work unit to charge (created if it does not exist).'),
          eventId: z
            .string()
            .min(1)
            .max(255)
            .optional()
            .describe(
              'Your id for this record. A retry with the same eventId and the same figures (occurredAt included) is counted once (duplicates: 1); the same eventId with other figures is not recorded (conflicts: 1). Default: a fresh id.',
            ),
          occurredAt: z.iso
            .datetime({ offset: true })
            .optional()
            .describe('When the model call ended (ISO 8601). Default: now. Send it with eventId so that a retry repeats it.'),
        },
      },
      runTool<{
        provider: string;
        model: string;
        inputTokens: number;
        outputTokens: number;
        cachedInputTokens?: number;
        cost?: number;
        workUnit?: string;
        eventId?: string;
        occurredAt?: string;
      }>(session, this.metrics, 'record_usage', WRITERS, async (args) => {
        const workUnitId = args.workUnit === undefined ? null : await this.refs.idOf(session.auth, args.workUnit, 'workUnit');
        const eventId = args.eventId ?? randomUUID();
        const result = await this.usage.record(session.auth, [
          {
            eventId,
            workUnitId,
            provider: args.provider,
            model: args.model,
            inputTokens: args.inputTokens,
            outputTokens: args.outputTokens,
            cachedInputTokens: args.cachedInputTokens ?? null,
            cost: args.cost ?? null,
            occurredAt: args.occurredAt === undefined ? new Date() : new Date(args.occurredAt),
          },
        ]);
        const unit = workUnitId ? await this.workUnits.findInOrganization(session.auth.organizationId, workUnitId) : null;
        return { eventId, ...result, workUnit: unit ? describe(unit) : null };
      }),
    );

    server.registerTool(
      'record_outcome',
      {
        description:
          'Records how a work unit turned out: ACCEPTED (the work succeeded), REJECTED (it failed or was thrown away) or PENDING (not known yet). It replaces the previous outcome, which stays in the history; the cost per successful outcome is computed from it. Call it when the task ends. FORBIDDEN means the work unit was created by another principal: only its creator (or an admin) records its outcome.',
        inputSchema: {
          workUnit: workUnit.describe('The externalRef of the work unit (created if it does not exist).'),
          outcome: z.enum(OUTCOMES).describe('ACCEPTED, REJECTED or PENDING.'),
          qualityResult: z.string().min(1).max(1000).optional().describe('How good the result was, in a few words or a score.'),
          valueDimension: z.enum(VALUE_DIMENSIONS).optional().describe('What kind of value the work moved.'),
          valueAmount: z.number().min(-1e15).max(1e15).optional().describe('How much value it moved, in the unit of valueDimension.'),
        },
      },
      runTool<{
        workUnit: string;
        outcome: (typeof OUTCOMES)[number];
        qualityResult?: string;
        valueDimension?: (typeof VALUE_DIMENSIONS)[number];
        valueAmount?: number;
      }>(session, this.metrics, 'record_outcome', WRITERS, async (args) => {
        const workUnitId = await this.refs.idOf(session.auth, args.workUnit, 'workUnit');
        const unit = await this.outcomes.record(session.auth, {
          workUnitId,
          outcome: args.outcome,
          qualityResult: args.qualityResult ?? null,
          valueDimension: args.valueDimension ?? null,
          valueAmount: args.valueAmount ?? null,
        });
        return { workUnit: describe(unit) };
      }),
    );
  }
}

function describe(unit: WorkUnit): ToolAnswer {
  return {
    id: unit.id,
    externalRef: unit.externalRef,
    process: unit.process,
    task: unit.task,
    team: unit.team,
    outcome: unit.outcome,
    qualityResult: unit.qualityResult,
    valueDimension: unit.valueDimension,
    valueAmount: unit.valueAmount,
    licenseCost: unit.licenseCost,
    computeCost: unit.computeCost,
    totalCost: unit.totalCost,
    computeInputTokens: unit.computeInputTokens,
    computeOutputTokens: unit.computeOutputTokens,
    licenseCreditHours: unit.licenseCreditHours,
  };
}
