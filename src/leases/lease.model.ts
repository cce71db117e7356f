import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { App } from '../apps/app.model';
import { Pool } from '../pools/pool.model';
import { Principal } from '../principals/principal.model';
import type { DenialReason } from './denial.entity';
import type { LeaseState as LeaseStateValue } from './lease.entity';

export const LeaseState = { ACTIVE: 'ACTIVE', RELEASED: 'RELEASED', EXPIRED: 'EXPIRED', REVOKED: 'REVOKED' } as const satisfies Record<
  LeaseStateValue,
  LeaseStateValue
>;
registerEnumType(LeaseState, {
  name: 'LeaseState',
  description: 'Where a lease is in its life.',
  valuesMap: {
    ACTIVE: { description: 'Held: checked out and not yet past its expiry.' },
    RELEASED: { description: 'Checked in.' },
    EXPIRED: { description: 'Its heartbeats stopped and its time ran out.' },
    REVOKED: { description: 'Ended by an admin.' },
  },
});

@ObjectType('Lease', { description: 'An app checked out from a pool by a principal, until checked in, expired or revoked.' })
export class Lease {
  @Field(() => ID, { description: 'The lease id.' })
  id!: string;

  @Field(() => Pool, { description: 'The pool the lease draws from.' })
  pool?: Pool;

  @Field(() => App, { description: 'The app checked out.' })
  app?: App;

  @Field(() => Principal, { description: 'The holder (the principal a SERVICE checked out for, when onBehalfOf was used).' })
  principal?: Principal;

  @Field(() => Int, { description: "Credits this lease's draw holds (0 when it joined another lease's draw)." })
  credits!: number;

  @Field({ description: 'Decimal integer, strictly rising per pool and never reused; a tool can refuse a lease older than one it has seen.' })
  fencingToken!: string;

  @Field(() => LeaseState, { description: 'ACTIVE, RELEASED, EXPIRED or REVOKED. A lease past its expiresAt reads EXPIRED even before the sweep collects it.' })
  state!: LeaseStateValue;

  @Field({ description: 'When the lease was granted (Redis clock).' })
  acquiredAt!: Date;

  @Field({ description: 'When the lease expires unless heartbeated; a heartbeat sets it to now plus the lease length.' })
  expiresAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the lease ended (equal to expiresAt for an expired lease).' })
  endedAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'The host the holder named at check-out.' })
  host!: string | null;

  @Field(() => Int, { description: 'The lease length in seconds (a borrowed lease: its whole borrow).' })
  leaseSeconds!: number;

  @Field(() => Date, {
    nullable: true,
    description:
      "Set on a borrowed lease: it needs no heartbeat, holds its credits until this time or its return, and its proof's exp is this time, so a tool can run offline until then.",
  })
  borrowedUntil!: Date | null;

  poolId!: string;
  appId!: string;
  principalId!: string;
  organizationId!: string;
  workUnitId!: string | null;
}

@ObjectType('HeartbeatResult', { description: "One lease's answer inside a batch of heartbeats: a lease that ended does not fail the others." })
export class HeartbeatResult {
  @Field(() => ID, { description: 'The lease, as asked.' })
  leaseId!: string;

  @Field(() => Lease, { nullable: true, description: 'The lease after the heartbeat; null when code is set.' })
  lease!: Lease | null;

  @Field(() => String, { nullable: true, description: 'Null on success; LEASE_NOT_ACTIVE, NOT_FOUND or UNAVAILABLE otherwise.' })
  code!: string | null;

  @Field(() => LeaseState, { nullable: true, description: 'With LEASE_NOT_ACTIVE: how the lease ended (EXPIRED, RELEASED or REVOKED).' })
  state!: LeaseStateValue | null;

  @Field(() => String, { nullable: true, description: 'With a code: what happened and what to do, as the single heartbeat would say it.' })
  message!: string | null;

  @Field(() => Int, { nullable: true, description: 'With UNAVAILABLE: when to try this lease again.' })
  retryAfterSeconds!: number | null;
}

@ObjectType('Denial', { description: 'A check-out refused for lack of credits or by a limit; kept for right-sizing.' })
export class Denial {
  @Field(() => ID, { description: 'Denial id; pass it as `after` to read the next page.' })
  id!: string;

  @Field(() => Pool, { description: 'The pool.' })
  pool?: Pool;

  @Field(() => App, { description: 'The app asked for.' })
  app?: App;

  @Field(() => Principal, { description: 'Who was refused.' })
  principal?: Principal;

  @Field(() => String, { nullable: true, description: 'Their team.' })
  team!: string | null;

  @Field(() => Int, { description: 'Credits the check-out would have drawn.' })
  requested!: number;

  @Field(() => Int, { description: 'Credits available to them at that moment.' })
  available!: number;

  @Field(() => String, { description: 'POOL_EXHAUSTED, GROUP_LIMIT_REACHED or QUEUE_TIMEOUT.' })
  reason!: DenialReason;

  @Field({ description: 'When it happened (the first refusal this denial counts).' })
  at!: Date;

  @Field(() => Int, {
    description:
      'Refusals this denial counts: repeated refusals of the same principal, app, pool and reason within DENIAL_COALESCE_SECONDS (default 5) are one denial. Reports count refusals, not denials.',
  })
  count!: number;

  @Field({ description: 'When the last refusal this denial counts happened (equals `at` when count is 1).' })
  lastAt!: Date;

  poolId!: string;
  appId!: string;
  principalId!: string;
}

@ObjectType('Quote', { description: 'What a check-out would do now, without doing it.' })
export class Quote {
  @Field(() => Int, { description: 'Credits this principal would draw now, after sharing (0 when it would join an open draw).' })
  cost!: number;

  @Field({ description: 'Whether a check-out now would be granted.' })
  grantable!: boolean;

  @Field(() => Int, { description: "Credits available as this principal sees them (its team's unused reservation included)." })
  available!: number;

  @Field(() => Int, { description: 'Requests waiting ahead in the pool queue.' })
  queueLength!: number;

  @Field(() => Int, {
    nullable: true,
    description:
      'Estimated seconds until the credits are there, from the release rate of the last 10 minutes; 0 when grantable, null when nothing was released lately.',
  })
  estimatedWaitSeconds!: number | null;
}
