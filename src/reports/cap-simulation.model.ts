import { Field, Float, Int, ObjectType } from '@nestjs/graphql';

@ObjectType('CapSimulation', { description: "A window's recorded demand replayed, first come first served, against a proposed cap." })
export class CapSimulation {
  @Field(() => Int, { description: 'The proposed cap.' })
  cap!: number;

  @Field(() => Int, { description: 'Demand replayed: the draws opened in the window and its true denials for lack of credits.' })
  requests!: number;

  @Field(() => Int, { description: 'Requests that would have been refused (waited longer than maxWaitSeconds, or asked for more than the cap).' })
  denied!: number;

  @Field(() => Int, { description: 'Requests that would have been granted after waiting.' })
  delayed!: number;

  @Field(() => Float, { description: 'Credit-hours the refused requests would have held.' })
  deniedCreditHours!: number;

  @Field(() => Int, { description: 'Longest wait of a delayed request, in seconds (rounded up).' })
  longestWaitSeconds!: number;
}
