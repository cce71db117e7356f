import { Field, Float, ID, InputType } from '@nestjs/graphql';
import { OrgUnitKind } from '../../principals/principal.model';
import type { OrgUnitKind as OrgUnitKindValue } from '../../principals/principal.entity';
import type { OutcomeStatus as OutcomeStatusValue, ValueDimension as ValueDimensionValue } from '../work-unit.entity';
import { OutcomeStatus, ValueDimension } from '../work-unit.model';

@InputType('WorkUnitInput', { description: 'A work unit to create, or to change when its externalRef exists; fields left out (or null) keep their value.' })
export class WorkUnitInput {
  @Field({ description: "The caller's own id for the work, 1 to 255 characters: the upsert key within the organization." })
  externalRef!: string;

  @Field(() => String, { nullable: true, description: 'Who owns the work, up to 255 characters.' })
  owner?: string | null;

  @Field(() => String, { nullable: true, description: 'The team doing the work, up to 100 characters.' })
  team?: string | null;

  @Field(() => String, { nullable: true, description: 'The business process or product it serves, up to 255 characters.' })
  process?: string | null;

  @Field(() => String, { nullable: true, description: 'The task within the process, up to 255 characters.' })
  task?: string | null;

  @Field(() => OrgUnitKind, { nullable: true, description: "Change organisation or going concern; default (on creation): the calling principal's." })
  orgUnitKind?: OrgUnitKindValue | null;
}

@InputType('WorkUnitFilter', { description: 'Which work units to list; every given field must match.' })
export class WorkUnitFilter {
  @Field(() => String, { nullable: true, description: 'Only this process.' })
  process?: string | null;

  @Field(() => String, { nullable: true, description: 'Only this team.' })
  team?: string | null;

  @Field(() => OutcomeStatus, { nullable: true, description: 'Only this current outcome.' })
  outcome?: OutcomeStatusValue | null;

  @Field(() => Date, { nullable: true, description: 'Created at or after.' })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Created before.' })
  to?: Date | null;
}

@InputType('OutcomeInput', {
  description:
    'The outcome of a work unit as it stands now. It replaces the previous one whole (fields left out become null); the previous one stays in the history.',
})
export class OutcomeInput {
  @Field(() => ID, { description: 'The work unit.' })
  workUnitId!: string;

  @Field(() => OutcomeStatus, { description: 'Accepted, rejected, or still pending.' })
  outcome!: OutcomeStatusValue;

  @Field(() => String, { nullable: true, description: 'The quality result, up to 1,000 characters.' })
  qualityResult?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Whether a person reviewed the result.' })
  humanReviewed?: boolean | null;

  @Field(() => String, { nullable: true, description: 'The decision or action the work led to, up to 1,000 characters.' })
  decision?: string | null;

  @Field(() => ValueDimension, { nullable: true, description: 'The value dimension the outcome moved.' })
  valueDimension?: ValueDimensionValue | null;

  @Field(() => Float, { nullable: true, description: 'The value moved (finite, at most 10^15 either way).' })
  valueAmount?: number | null;

  @Field(() => Float, { nullable: true, description: 'How confident the evidence is, 0 to 1.' })
  evidenceConfidence?: number | null;
}
