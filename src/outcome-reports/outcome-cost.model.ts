import { Field, Float, Int, ObjectType } from '@nestjs/graphql';

@ObjectType('OutcomeCost', { description: 'The fully loaded cost of one process over [from, to) and what it cost per accepted outcome.' })
export class OutcomeCost {
  @Field({ description: 'The process of the work unit ("" for usage on no work unit, or on one without a process).' })
  process!: string;

  @Field(() => Int, { description: 'Work units of the process with usage in the window.' })
  workUnits!: number;

  @Field(() => Int, { description: 'Of those, the ones whose outcome was ACCEPTED as of `to`.' })
  acceptedWorkUnits!: number;

  @Field(() => Float, { description: 'License and compute cost, corrections included.' })
  totalCost!: number;

  @Field(() => Float, { nullable: true, description: 'totalCost / acceptedWorkUnits; null when none was accepted.' })
  costPerAcceptedOutcome!: number | null;
}
