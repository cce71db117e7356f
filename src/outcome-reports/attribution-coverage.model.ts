import { Field, Float, ObjectType } from '@nestjs/graphql';

@ObjectType('AttributionCoverage', { description: 'How much of the spend of [from, to) is linked to a work unit with an owner and evidence of its outcome.' })
export class AttributionCoverage {
  @Field(() => Float, { description: 'All cost in the window, usage on no work unit included.' })
  totalCost!: number;

  @Field(() => Float, { description: 'Cost on work units that have an owner and an outcome other than PENDING as of `to`.' })
  attributedCost!: number;

  @Field(() => Float, { description: 'attributedCost / totalCost (0 when there is no cost).' })
  coverage!: number;
}
