import { AppError } from '../../common/errors/app-error';

/** OTLP_MAX_SPANS and OTLP_MAX_ATTRIBUTES. */
export interface OtlpLimits {
  maxSpans: number;
  maxAttributes: number;
}

/** What carries attributes in a trace export. */
export type AttributeOwner = 'resource' | 'scope' | 'span';

/** An export over one of the OTLP bounds: BAD_REQUEST, answered with 413 like a body over the byte limit. */
export class OtlpLimitExceeded extends AppError {
  readonly statusCode = 413;

  constructor(message: string, limit: string, max: number) {
    super('BAD_REQUEST', message, { limit, max });
  }
}

/**
 * The decoders' count of what they have read so far. They call it before they build
 * anything for a span or an attribute, so an export stops at the first one past a bound and
 * the memory spent on it stays proportional to what the bounds let through.
 */
export class OtlpBudget {
  private spans = 0;

  constructor(private readonly limits: OtlpLimits) {}

  span(): void {
    this.spans += 1;
    const max = this.limits.maxSpans;
    if (this.spans > max)
      throw new OtlpLimitExceeded(`The export carries more than ${max} spans (OTLP_MAX_SPANS); send at most ${max} spans per request`, 'OTLP_MAX_SPANS', max);
  }

  /** `count`: the owner's attributes read so far, this one included. */
  attribute(owner: AttributeOwner, count: number): void {
    const max = this.limits.maxAttributes;
    if (count > max)
      throw new OtlpLimitExceeded(
        `A ${owner} carries more than ${max} attributes (OTLP_MAX_ATTRIBUTES); send at most ${max} per ${owner}`,
        'OTLP_MAX_ATTRIBUTES',
        max,
      );
  }
}
