import { Field, ID, ObjectType } from '@nestjs/graphql';

@ObjectType('AuditEntry', { description: 'One administrative change: who, when, what, before and after.' })
export class AuditEntry {
  @Field(() => ID, { description: 'Entry id; pass it as `after` to read the next page.' })
  id!: string;

  @Field({ description: 'When the change was made.' })
  at!: Date;

  actorPrincipalId!: string;

  @Field({ description: 'The mutation that made it, e.g. "updatePool".' })
  action!: string;

  @Field(() => ID, { description: 'The id of the changed object.' })
  objectId!: string;

  @Field(() => String, { nullable: true, description: 'The object before the change, as JSON; null when it was created.' })
  before!: string | null;

  @Field(() => String, { nullable: true, description: 'The object after the change, as JSON.' })
  after!: string | null;
}
