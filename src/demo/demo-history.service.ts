import { Injectable } from '@nestjs/common';
import type { ComputeEvent } from '../compute-usage/compute-events';
import { ComputeUsageService, MAX_BATCH } from '../compute-usage/compute-usage.service';
import { HistoryImportService, ImportedDenial, ImportedLease } from '../history/history-import.service';
import type { OutcomeInput } from '../work-units/dto/work-unit.inputs';
import { OutcomesService } from '../work-units/outcomes.service';
import { WorkUnitsService } from '../work-units/work-units.service';
import { DEMO_POOLS, DEMO_PROCESSES } from './demo-catalog';
import { DemoWorkUnit, planDay } from './demo-day';
import { simulateGrants } from './demo-grants';
import { DemoRandom } from './demo-random';
import { authOf, DemoTenant } from './demo-tenant.service';

export interface DemoDayStats {
  leases: number;
  denials: number;
  computeEvents: number;
  workUnits: number;
  outcomes: number;
}

const DAY = 86_400_000;
// Enough to overlap the round trips without taking every connection of the pool.
const PARALLEL = 6;

async function inChunks<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let at = 0; at < items.length; at += PARALLEL) results.push(...(await Promise.all(items.slice(at, at + PARALLEL).map(work))));
  return results;
}

/**
 * One day of demo history: its work units, its leases and denials (through the history
 * import, after a first-come-first-served replay against each pool's cap so the import
 * accepts them), the model calls of its work units, and their outcomes.
 */
@Injectable()
export class DemoHistoryService {
  constructor(
    private readonly history: HistoryImportService,
    private readonly workUnits: WorkUnitsService,
    private readonly outcomes: OutcomesService,
    private readonly compute: ComputeUsageService,
  ) {}

  async seedDay(tenant: DemoTenant, day: { seed: number; index: number; start: number; recent: boolean }): Promise<DemoDayStats> {
    const plan = planDay({ seed: day.seed, dayIndex: day.index, dayStart: day.start });
    const rng = new DemoRandom(day.seed * 7919 + day.index);
    const ids = new Map<string, string>();
    await inChunks(plan.workUnits, async (w) => {
      const unit = await this.workUnits.upsert(authOf(tenant.organizationId, tenant.principals.get(w.owner.name)!), {
        externalRef: w.ref,
        owner: w.owner.name,
        team: w.owner.team,
        process: w.process,
        task: w.task,
        orgUnitKind: DEMO_PROCESSES[w.process].orgUnitKind,
      });
      ids.set(w.ref, unit.id);
    });
    let leases = 0;
    let denials = 0;
    for (const spec of DEMO_POOLS) {
      const imported = await this.importPool(tenant, { spec, requests: plan.requests.filter((r) => r.pool === spec.id), ids, dayEnd: day.start + DAY, rng });
      leases += imported.leases;
      denials += imported.denials;
    }
    const computeEvents = await this.recordCompute(tenant, plan.workUnits, ids, rng);
    const outcomes = await this.recordOutcomes(tenant, plan.workUnits, ids, { rng, recent: day.recent });
    return { leases, denials, computeEvents, workUnits: plan.workUnits.length, outcomes };
  }

  private async importPool(
    tenant: DemoTenant,
    q: { spec: (typeof DEMO_POOLS)[number]; requests: ReturnType<typeof planDay>['requests']; ids: Map<string, string>; dayEnd: number; rng: DemoRandom },
  ): Promise<{ leases: number; denials: number }> {
    const { pool, apps } = tenant.pools.get(q.spec.id)!;
    const principal = (name: string) => tenant.principals.get(name)!;
    const { grants, denials } = simulateGrants({
      pool: q.spec,
      requests: q.requests,
      teamOf: (name) => principal(name).team ?? '',
      dayEnd: q.dayEnd,
      rng: q.rng,
    });
    const leases: ImportedLease[] = grants.map((g) => {
      const idleStart = g.start + Math.round((g.durationMs - g.idleMs) / 2);
      return {
        appId: apps.get(g.app)!.id,
        principalId: principal(g.principal).id,
        acquiredAt: new Date(g.start),
        endedAt: new Date(g.end),
        state: g.expired ? 'EXPIRED' : 'RELEASED',
        host: g.host,
        workUnitId: g.workUnit === null ? null : q.ids.get(g.workUnit)!,
        idle: g.idleMs > 0 ? [{ startedAt: new Date(idleStart), endedAt: new Date(idleStart + g.idleMs) }] : [],
      };
    });
    const refused: ImportedDenial[] = denials.map((d) => ({
      appId: apps.get(d.app)!.id,
      principalId: principal(d.principal).id,
      at: new Date(d.at),
      reason: d.reason,
    }));
    if (leases.length + refused.length === 0) return { leases: 0, denials: 0 };
    const result = await this.history.import({ organizationId: tenant.organizationId, poolId: pool.id, leases, denials: refused });
    return { leases: result.leases, denials: result.denials };
  }

  /** Model calls spread over each work unit's span, recorded by its owner with their own event ids. */
  private async recordCompute(tenant: DemoTenant, units: DemoWorkUnit[], ids: Map<string, string>, rng: DemoRandom): Promise<number> {
    const byOwner = new Map<string, ComputeEvent[]>();
    for (const w of units) {
      const process = DEMO_PROCESSES[w.process];
      const events = byOwner.get(w.owner.name) ?? [];
      for (let n = rng.int(...process.calls); n > 0; n--) {
        const input = rng.int(1500, 30_000);
        const output = rng.int(150, 3000);
        events.push({
          eventId: `${w.ref}-call-${n}`,
          workUnitId: ids.get(w.ref)!,
          ...process.model,
          inputTokens: input,
          outputTokens: output,
          cachedInputTokens: Math.floor(input * rng.between(0, 0.6)),
          reasoningOutputTokens: process.model.provider === 'anthropic' ? Math.floor(output * rng.between(0, 0.4)) : 0,
          occurredAt: new Date(Math.round(w.start + rng.next() * Math.max(60_000, w.end - w.start))),
        });
      }
      byOwner.set(w.owner.name, events);
    }
    let recorded = 0;
    for (const [owner, events] of byOwner) {
      for (let at = 0; at < events.length; at += MAX_BATCH) {
        recorded += (await this.compute.record(authOf(tenant.organizationId, tenant.principals.get(owner)!), events.slice(at, at + MAX_BATCH))).accepted;
      }
    }
    return recorded;
  }

  /** Most work is decided (accepted with a value, or rejected); the last days' work is mostly still pending. */
  private async recordOutcomes(tenant: DemoTenant, units: DemoWorkUnit[], ids: Map<string, string>, q: { rng: DemoRandom; recent: boolean }): Promise<number> {
    const decided = units
      .map((w) => ({ w, input: this.outcomeOf(w, ids.get(w.ref)!, q) }))
      .filter((d): d is { w: DemoWorkUnit; input: OutcomeInput } => d.input !== null);
    await inChunks(decided, (d) => this.outcomes.record(authOf(tenant.organizationId, tenant.principals.get(d.w.owner.name)!), d.input));
    return decided.length;
  }

  private outcomeOf(w: DemoWorkUnit, workUnitId: string, q: { rng: DemoRandom; recent: boolean }): OutcomeInput | null {
    const process = DEMO_PROCESSES[w.process];
    const roll = q.rng.next() * (q.recent ? 3 : 1);
    if (roll >= process.accepted + process.rejected) return q.rng.chance(0.5) ? { workUnitId, outcome: 'PENDING' } : null;
    const reviewed = q.rng.chance(0.6);
    if (roll >= process.accepted) return { workUnitId, outcome: 'REJECTED', humanReviewed: reviewed, qualityResult: 'did not pass review' };
    const value = process.value && process.value.max > 0 && q.rng.chance(0.9) ? Math.round(q.rng.between(process.value.min, process.value.max)) : null;
    return {
      workUnitId,
      outcome: 'ACCEPTED',
      humanReviewed: reviewed,
      decision: `${w.task} done`,
      valueDimension: process.value?.dimension ?? 'STRATEGIC',
      valueAmount: value,
      evidenceConfidence: Math.round(q.rng.between(0.5, 0.95) * 100) / 100,
    };
  }
}
