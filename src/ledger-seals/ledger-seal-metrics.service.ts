import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../common/metrics/metrics.service';

/** Seal metrics, labelled by organization id (an id, never a name). */
@Injectable()
export class LedgerSealMetricsService {
  readonly seals: Counter;
  /** 1 while the organization's last daily check found a broken seal, else 0. */
  readonly broken: Gauge<'organization'>;
  readonly verifications: Counter<'result'>;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.seals = new Counter({ name: 'tokenpool_ledger_seals_total', help: 'Ledger seals made by this process.', registers });
    this.broken = new Gauge({
      name: 'tokenpool_ledger_seal_broken',
      help: "1 when the daily check found a broken ledger seal in the organization (see the worker's error log), else 0.",
      labelNames: ['organization'],
      registers,
    });
    this.verifications = new Counter({
      name: 'tokenpool_ledger_verifications_total',
      help: 'Daily ledger seal checks by result: ok, broken, failed (could not run).',
      labelNames: ['result'],
      registers,
    });
  }
}
