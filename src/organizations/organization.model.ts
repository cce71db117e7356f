import { Field, ID, ObjectType } from '@nestjs/graphql';

@ObjectType('Organization', { description: 'A tenant. Nothing of one organization is visible to another.' })
export class Organization {
  @Field(() => ID, { description: 'The organization id.' })
  id!: string;

  @Field({ description: 'The organization name, unique on this server.' })
  name!: string;

  @Field({ description: 'ISO 4217 currency of every price and cost of the organization (default USD).' })
  currency!: string;
}
