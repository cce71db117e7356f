import { Field, Float, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { OrgUnitKind } from '../principals/principal.model';
import type { OrgUnitKind as OrgUnitKindValue } from '../principals/principal.entity';
import type { BurnMaturityValue } from './burn-math';

export const BurnMaturity = {
  INNOVATION_BURN: 'INNOVATION_BURN',
  OPERATIONAL_BURN: 'OPERATIONAL_BURN',
  PRODUCTIVE_BURN: 'PRODUCTIVE_BURN',
} as const satisfies Record<BurnMaturityValue, BurnMaturityValue>;
registerEnumType(BurnMaturity, {
  name: 'BurnMaturity',
  description: 'Where the spend sits and what it produces: experimenting, operating, or producing measured outcomes.',
  valuesMap: {
    INNOVATION_BURN: { description: 'The going-concern share of cost is under the threshold (default 50%): spend sits mostly in the change organisation.' },
    OPERATIONAL_BURN: {
      description: 'The going concern holds at least the threshold share of cost, but less than the threshold share of that is outcome-linked.',
    },
    PRODUCTIVE_BURN: {
      description:
        'The going concern holds at least the threshold share of cost, and at least the threshold share of that is on accepted work units with a value.',
    },
  },
});

@ObjectType('BurnSlice', { description: 'Consumption and cost of one side of the organisation (change or going concern) over the window.' })
export class BurnSlice {
  @Field(() => OrgUnitKind, { description: "The side: the work unit's orgUnitKind, or the principal's for usage charged to no work unit." })
  orgUnitKind!: OrgUnitKindValue;

  @Field(() => Float, { description: 'Compute tokens read and written (input + output; corrections add none).' })
  computeTokens!: number;

  @Field(() => Float, { description: 'Compute cost, corrections included, in the organization currency.' })
  computeCost!: number;

  @Field(() => Float, { description: 'License credit-hours of the draws that ended in the window.' })
  licenseCreditHours!: number;

  @Field(() => Float, { description: 'License cost, corrections included, in the organization currency.' })
  licenseCost!: number;

  @Field(() => Int, { description: 'Work units with usage in the window.' })
  workUnits!: number;

  @Field(() => Int, { description: 'Of those, the ones whose outcome was ACCEPTED as of `to`.' })
  acceptedWorkUnits!: number;
}

@ObjectType('BurnGroup', { description: 'The cost of one team or one process over the window.' })
export class BurnGroup {
  @Field({ description: 'The team or the process of the work unit ("" for usage on no work unit, or on one without a team or process).' })
  key!: string;

  @Field(() => Float, { description: 'Compute cost, corrections included.' })
  computeCost!: number;

  @Field(() => Float, { description: 'License cost, corrections included.' })
  licenseCost!: number;

  @Field(() => Float, { description: 'computeCost + licenseCost.' })
  totalCost!: number;

  @Field(() => Int, { description: 'Work units with usage in the window.' })
  workUnits!: number;

  @Field(() => Int, { description: 'Of those, the ones whose outcome was ACCEPTED as of `to`.' })
  acceptedWorkUnits!: number;
}

@ObjectType('BurnReport', {
  description: 'Where the spend of [from, to) burned (change organisation or going concern), what it produced, and the maturity level this implies.',
})
export class BurnReport {
  @Field({ description: 'Window start (inclusive).' })
  from!: Date;

  @Field({ description: 'Window end (exclusive); outcomes are read as of this instant.' })
  to!: Date;

  @Field(() => [BurnSlice], { description: 'Both sides, CHANGE then GOING_CONCERN (zeros when a side spent nothing).' })
  slices!: BurnSlice[];

  @Field(() => [BurnGroup], { description: 'Cost per team of the work unit, dearest first.' })
  byTeam!: BurnGroup[];

  @Field(() => [BurnGroup], { description: 'Cost per process of the work unit, dearest first.' })
  byProcess!: BurnGroup[];

  @Field(() => Float, { description: 'Going-concern cost / total cost (0 when there is no cost).' })
  goingConcernShare!: number;

  @Field(() => Float, { description: 'Going-concern cost on work units ACCEPTED as of `to` with a valueAmount / going-concern cost (0 when there is none).' })
  outcomeLinkedShare!: number;

  @Field(() => BurnMaturity, {
    description:
      'INNOVATION_BURN below the going-concern threshold; OPERATIONAL_BURN when under the outcome-linked threshold; PRODUCTIVE_BURN otherwise (both 50% by default).',
  })
  maturity!: BurnMaturityValue;
}
