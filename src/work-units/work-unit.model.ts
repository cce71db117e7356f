import { Field, Float, ID, ObjectType, registerEnumType } from '@nestjs/graphql';
import { OrgUnitKind } from '../principals/principal.model';
import type { OrgUnitKind as OrgUnitKindValue } from '../principals/principal.entity';
import type { OutcomeStatus as OutcomeStatusValue, ValueDimension as ValueDimensionValue } from './work-unit.entity';

export const OutcomeStatus = { PENDING: 'PENDING', ACCEPTED: 'ACCEPTED', REJECTED: 'REJECTED' } as const satisfies Record<
  OutcomeStatusValue,
  OutcomeStatusValue
>;
registerEnumType(OutcomeStatus, {
  name: 'OutcomeStatus',
  description: 'Whether the work was accepted.',
  valuesMap: {
    PENDING: { description: 'No verdict yet (every work unit starts here).' },
    ACCEPTED: { description: 'The work was accepted: it counts as a successful outcome.' },
    REJECTED: { description: 'The work was rejected.' },
  },
});

export const ValueDimension = {
  REVENUE: 'REVENUE',
  MARGIN: 'MARGIN',
  LOSS_AVOIDED: 'LOSS_AVOIDED',
  THROUGHPUT: 'THROUGHPUT',
  QUALITY: 'QUALITY',
  CYCLE_TIME: 'CYCLE_TIME',
  RESILIENCE: 'RESILIENCE',
  STRATEGIC: 'STRATEGIC',
} as const satisfies Record<ValueDimensionValue, ValueDimensionValue>;
registerEnumType(ValueDimension, {
  name: 'ValueDimension',
  description: 'The dimension of value an outcome moved.',
  valuesMap: {
    REVENUE: { description: 'More revenue.' },
    MARGIN: { description: 'Better margin.' },
    LOSS_AVOIDED: { description: 'A loss avoided.' },
    THROUGHPUT: { description: 'More throughput.' },
    QUALITY: { description: 'Better quality.' },
    CYCLE_TIME: { description: 'Shorter cycle time.' },
    RESILIENCE: { description: 'More resilience.' },
    STRATEGIC: { description: 'A strategic option opened.' },
  },
});

@ObjectType('OutcomeRecord', { description: 'One recorded outcome of a work unit: when, by whom, what it was before and what it became.' })
export class OutcomeRecord {
  @Field({ description: 'When it was recorded.' })
  recordedAt!: Date;

  @Field(() => ID, { description: 'The principal whose key recorded it.' })
  recordedById!: string;

  @Field(() => String, { nullable: true, description: 'The outcome before, as JSON; null for the first record.' })
  before!: string | null;

  @Field({ description: 'The outcome recorded, as JSON.' })
  after!: string;
}

@ObjectType('WorkUnit', { description: 'One piece of business work that leases and compute usage are charged to, with its outcome and its ledger totals.' })
export class WorkUnit {
  @Field(() => ID, { description: 'The work unit id.' })
  id!: string;

  @Field({ description: "The caller's own id for the work (a ticket, an order, a run); unique in the organization." })
  externalRef!: string;

  @Field(() => String, { nullable: true, description: 'Who owns the work (a person or role).' })
  owner!: string | null;

  @Field(() => String, { nullable: true, description: 'The team doing the work.' })
  team!: string | null;

  @Field(() => String, { nullable: true, description: 'The business process or product it serves.' })
  process!: string | null;

  @Field(() => String, { nullable: true, description: 'The task within the process.' })
  task!: string | null;

  @Field(() => OrgUnitKind, { description: 'Change organisation or going concern.' })
  orgUnitKind!: OrgUnitKindValue;

  @Field(() => OutcomeStatus, { description: 'The current outcome; PENDING until one is recorded.' })
  outcome!: OutcomeStatusValue;

  @Field(() => String, { nullable: true, description: 'The quality result, in the caller’s terms.' })
  qualityResult!: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Whether a person reviewed the result.' })
  humanReviewed!: boolean | null;

  @Field(() => String, { nullable: true, description: 'The decision or action the work led to.' })
  decision!: string | null;

  @Field(() => ValueDimension, { nullable: true, description: 'The value dimension the outcome moved.' })
  valueDimension!: ValueDimensionValue | null;

  @Field(() => Float, { nullable: true, description: 'The value moved, in the organization currency or the dimension’s unit.' })
  valueAmount!: number | null;

  @Field(() => Float, { nullable: true, description: 'How confident the evidence of the outcome is, 0 to 1.' })
  evidenceConfidence!: number | null;

  @Field(() => Float, { description: 'License credit-hours charged to the work unit (sum of its ledger rows).' })
  licenseCreditHours!: number;

  @Field(() => Float, { description: 'The part of licenseCreditHours its holders reported idle.' })
  licenseIdleCreditHours!: number;

  @Field(() => Float, { description: 'Compute input tokens, cached ones included (sums can pass 2^31).' })
  computeInputTokens!: number;

  @Field(() => Float, { description: 'The part of computeInputTokens read from a cache.' })
  computeCachedInputTokens!: number;

  @Field(() => Float, { description: 'Compute output tokens, reasoning ones included.' })
  computeOutputTokens!: number;

  @Field(() => Float, { description: 'The part of computeOutputTokens spent reasoning.' })
  computeReasoningTokens!: number;

  @Field(() => Float, { description: 'Cost of the license rows, in the organization currency.' })
  licenseCost!: number;

  @Field(() => Float, { description: 'Cost of the compute rows and their price corrections; unpriced events count 0 until priced.' })
  computeCost!: number;

  @Field(() => Float, { description: 'licenseCost + computeCost.' })
  totalCost!: number;

  @Field({ description: 'When the work unit was created.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When its outcome was last recorded; null while none was.' })
  outcomeRecordedAt!: Date | null;

  organizationId!: string;
}
