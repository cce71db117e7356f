import { Field, Float, ID, Int, ObjectType } from '@nestjs/graphql';

@ObjectType('Pool', { description: 'A capped amount of license credits that leases draw from.' })
export class Pool {
  @Field(() => ID, { description: 'The pool id.' })
  id!: string;

  @Field({ description: 'Display name, unique in the organization.' })
  name!: string;

  @Field(() => Int, { description: 'Most credits that leases (and lingering draws) may hold at once.' })
  cap!: number;

  @Field(() => Int, { description: 'Credits held now, lingering draws included (live, from Redis).' })
  inUse?: number;

  @Field(() => Int, { description: 'max(0, cap - inUse - reservations not yet used by their teams) (live).' })
  available?: number;

  @Field(() => Int, { description: 'Leases active now (live).' })
  activeLeases?: number;

  @Field(() => Int, { description: 'Check-outs waiting in the fair queue now (live).' })
  queueLength?: number;

  @Field(() => Int, { description: 'Lease length when a check-out names none (default 300 s).' })
  defaultLeaseSeconds!: number;

  @Field(() => Int, { description: 'Longest lease a check-out may ask for (default 3600 s).' })
  maxLeaseSeconds!: number;

  @Field(() => Int, { description: 'Longest borrow (offline lease) in hours: 0 (the default) = borrowing off; at most 720.' })
  maxBorrowHours!: number;

  @Field(() => Float, { nullable: true, description: 'Price of one credit held for one hour, in the organization currency, for cost reports.' })
  creditHourPrice!: number | null;
}

@ObjectType('GroupLimit', { description: 'Credits reserved for a team in a pool (a floor) and the most it may hold (a ceiling).' })
export class GroupLimit {
  @Field(() => Pool, { description: 'The pool.' })
  pool?: Pool;

  poolId!: string;

  @Field({ description: 'The team, as in Principal.team.' })
  team!: string;

  @Field(() => Int, { description: 'Credits kept for this team; others cannot take them.' })
  reserved!: number;

  @Field(() => Int, { nullable: true, description: 'Most credits this team may hold at once; null = no ceiling.' })
  max!: number | null;
}
