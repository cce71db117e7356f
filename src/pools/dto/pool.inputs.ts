import { Field, Float, ID, InputType, Int } from '@nestjs/graphql';

@InputType('CreatePoolInput', { description: 'A new pool.' })
export class CreatePoolInput {
  @Field({ description: 'Display name, 1 to 200 characters, unique in the organization.' })
  name!: string;

  @Field(() => Int, { description: 'Most credits held at once, 0 to 1,000,000,000.' })
  cap!: number;

  @Field(() => Int, { nullable: true, description: 'Lease length when a check-out names none (default 300 s; 5 to maxLeaseSeconds).' })
  defaultLeaseSeconds?: number | null;

  @Field(() => Int, { nullable: true, description: 'Longest lease (default 3600 s; 5 to 604,800).' })
  maxLeaseSeconds?: number | null;

  @Field(() => Int, { nullable: true, description: 'Longest borrow (offline lease) in hours: 0 (the default) = borrowing off; at most 720.' })
  maxBorrowHours?: number | null;

  @Field(() => Float, { nullable: true, description: 'Price of one credit-hour in the organization currency (0 or more).' })
  creditHourPrice?: number | null;
}

@InputType('UpdatePoolInput', { description: 'Changes to a pool; omitted fields stay as they are.' })
export class UpdatePoolInput {
  @Field(() => String, { nullable: true, description: 'Display name.' })
  name?: string | null;

  @Field(() => Int, { nullable: true, description: 'New cap, live at once. Lowering it below inUse ends no lease; check-outs are refused until inUse fits.' })
  cap?: number | null;

  @Field(() => Int, { nullable: true, description: 'Lease length when a check-out names none.' })
  defaultLeaseSeconds?: number | null;

  @Field(() => Int, { nullable: true, description: 'Longest lease.' })
  maxLeaseSeconds?: number | null;

  @Field(() => Int, { nullable: true, description: 'Longest borrow in hours (0 = off, at most 720). Lowering it ends no borrowed lease.' })
  maxBorrowHours?: number | null;

  @Field(() => Float, { nullable: true, description: 'Price of one credit-hour.' })
  creditHourPrice?: number | null;
}

@InputType('GroupLimitInput', { description: 'A team reservation and ceiling in a pool.' })
export class GroupLimitInput {
  @Field(() => ID, { description: 'The pool.' })
  poolId!: string;

  @Field({ description: 'The team, as in Principal.team, 1 to 100 characters.' })
  team!: string;

  @Field(() => Int, { description: 'Credits reserved for the team (0 or more); reservations of a pool never add up to more than its cap.' })
  reserved!: number;

  @Field(() => Int, { nullable: true, description: 'Most credits the team may hold at once (at least `reserved`); null = no ceiling.' })
  max?: number | null;
}
