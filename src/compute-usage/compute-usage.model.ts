import { Field, Int, ObjectType } from '@nestjs/graphql';

@ObjectType('ComputeUsageResult', { description: 'What a batch of compute events did to the ledger.' })
export class ComputeUsageResult {
  @Field(() => Int, { description: 'New events written to the ledger.' })
  accepted!: number;

  @Field(() => Int, { description: 'eventIds already recorded with the same content (not counted again).' })
  duplicates!: number;

  @Field(() => Int, { description: 'eventIds already recorded with other content: not recorded, and logged.' })
  conflicts!: number;
}
