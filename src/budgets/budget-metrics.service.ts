import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../common/metrics/metrics.service';

/**
 * Compute budget metrics, labelled by budget id (ids, not names, so no tenant data leaks into
 * labels). The figures are set whenever a process reads a budget (the API on every budget
 * read, the worker on every sweep); the counters count this process's reservations.
 */
@Injectable()
export class BudgetMetricsService {
  /** result: granted, refused (BUDGET_EXHAUSTED), expired (by the worker). */
  readonly reservations: Counter<'result'>;
  private readonly limit: Gauge<'budget'>;
  private readonly spent: Gauge<'budget'>;
  private readonly reserved: Gauge<'budget'>;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.reservations = new Counter({
      name: 'tokenpool_compute_reservations_total',
      help: 'Compute reservations by result: granted, refused (BUDGET_EXHAUSTED), expired.',
      labelNames: ['result'],
      registers,
    });
    this.limit = new Gauge({
      name: 'tokenpool_compute_budget_limit',
      help: "Budget limit per period, in the organization's currency.",
      labelNames: ['budget'],
      registers,
    });
    this.spent = new Gauge({ name: 'tokenpool_compute_budget_spent', help: 'Spent in the current period.', labelNames: ['budget'], registers });
    this.reserved = new Gauge({
      name: 'tokenpool_compute_budget_reserved',
      help: 'Held by OPEN reservations of the current period.',
      labelNames: ['budget'],
      registers,
    });
  }

  /** Figures in micro-units. */
  observeBudget(budgetId: string, limitMicros: number, spentMicros: number, reservedMicros: number): void {
    this.limit.set({ budget: budgetId }, limitMicros / 1e6);
    this.spent.set({ budget: budgetId }, spentMicros / 1e6);
    this.reserved.set({ budget: budgetId }, reservedMicros / 1e6);
  }

  forget(budgetId: string): void {
    for (const gauge of [this.limit, this.spent, this.reserved]) gauge.remove({ budget: budgetId });
  }
}
