import { Inject, Injectable } from '@nestjs/common';
import type { AuthContext } from '../../auth/auth-context';
import { AppError } from '../../common/errors/app-error';
import { requireText } from '../../common/validation/validate';
import { APP_CONFIG, AppConfig } from '../../config/env';
import { WorkUnitsService } from '../../work-units/work-units.service';
import { ComputeEvent } from '../compute-events';
import { ComputeUsageService } from '../compute-usage.service';
import { decodeJsonTraceExport } from './otlp-json';
import { OtlpBudget, OtlpLimits } from './otlp-limits';
import { decodeTraceExport } from './otlp-protobuf';
import { readSpans, SpanUsage, TraceExport, WORK_UNIT_ATTRIBUTE } from './otlp-spans';

/** The ExportTraceServiceResponse's partial_success: spans refused, and why (the first few reasons). */
export interface OtlpPartialSuccess {
  rejectedSpans?: number;
  errorMessage?: string;
}

/** A request body as received: protobuf bytes or JSON text, both decoded here within the OTLP bounds. */
export type OtlpBody = { protobuf: Buffer } | { json: string };

/**
 * OTLP trace exports as compute usage. Unlike recordComputeUsage, an export is taken span
 * by span, as OTLP expects: valid usage spans are recorded, the others are counted in
 * rejectedSpans (a span replayed with other content, which is not recorded, counts there too).
 */
@Injectable()
export class OtlpTracesService {
  private readonly limits: OtlpLimits;

  constructor(
    private readonly usage: ComputeUsageService,
    private readonly workUnits: WorkUnitsService,
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'otlpMaxSpans' | 'otlpMaxAttributes'>,
  ) {
    this.limits = { maxSpans: config.otlpMaxSpans, maxAttributes: config.otlpMaxAttributes };
  }

  async export(auth: AuthContext, body: OtlpBody): Promise<OtlpPartialSuccess> {
    const reading = readSpans(this.decode(body));
    const reasons = [...reading.rejected];
    const usable: SpanUsage[] = [];
    for (const usage of reading.usages) {
      try {
        if (usage.workUnitRef !== null) requireText(usage.workUnitRef, WORK_UNIT_ATTRIBUTE, { max: 255 });
        usable.push(usage);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        reasons.push(`${usage.eventId}: ${err.message}`);
      }
    }
    const refs = usable.flatMap((u) => (u.workUnitRef === null ? [] : [u.workUnitRef.trim()]));
    const ids = refs.length > 0 ? await this.workUnits.idsForExternalRefs(auth, refs) : new Map<string, string>();
    const events: ComputeEvent[] = usable.map(({ workUnitRef, ...usage }) => ({
      ...usage,
      workUnitId: workUnitRef === null ? null : (ids.get(workUnitRef.trim()) ?? null),
    }));
    const { result, rejected } = await this.usage.recordEach(auth, events);
    for (const r of rejected) reasons.push(`${events[r.index].eventId}: ${r.message.replace(`spans[${r.index}].`, '')}`);
    const rejectedSpans = reasons.length + result.conflicts;
    if (result.conflicts > 0) reasons.push(`${result.conflicts} span(s) were recorded before with other figures and were not recorded again`);
    if (rejectedSpans === 0) return {};
    return { rejectedSpans, errorMessage: reasons.slice(0, 5).join('; ') };
  }

  /** A fresh budget per request: the bounds count spans per request and attributes per span. */
  private decode(body: OtlpBody): TraceExport {
    const budget = new OtlpBudget(this.limits);
    return 'protobuf' in body ? decodeTraceExport(body.protobuf, budget) : decodeJsonTraceExport(body.json, budget);
  }
}
