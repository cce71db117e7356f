import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Every series of a label value costs memory and scrape size for the life of the process. */
const MAX_OPERATION_NAMES = 200;
const MAX_OPERATION_NAME_LENGTH = 100;
const OTHER_OPERATIONS = 'other';

export interface OperationObservation {
  type: string;
  name: string;
  outcome: string;
}

/** The process's Prometheus registry. Features register their own gauges and counters on it. */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'tokenpool_http_request_duration_seconds',
    help: 'HTTP request durations by method, route and status code.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  private readonly graphqlDuration = new Histogram({
    name: 'tokenpool_graphql_operation_duration_seconds',
    help: `GraphQL operation durations by operation type and name (anonymous operations by their first root field; past ${MAX_OPERATION_NAMES} names, or longer than ${MAX_OPERATION_NAME_LENGTH} characters, "${OTHER_OPERATIONS}").`,
    labelNames: ['operation_type', 'operation_name', 'outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  private readonly operationNames = new Set<string>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tokenpool_' });
  }

  observeOperation(operation: OperationObservation, seconds: number): void {
    this.graphqlDuration.observe({ operation_type: operation.type, operation_name: this.operationLabel(operation.name), outcome: operation.outcome }, seconds);
  }

  /**
   * The client chooses operation names, so each would otherwise be a new series forever:
   * the first names seen keep their own label, every later or overlong one shares "other".
   */
  private operationLabel(name: string): string {
    if (this.operationNames.has(name)) return name;
    if (name.length > MAX_OPERATION_NAME_LENGTH || this.operationNames.size >= MAX_OPERATION_NAMES) return OTHER_OPERATIONS;
    this.operationNames.add(name);
    return name;
  }
}
