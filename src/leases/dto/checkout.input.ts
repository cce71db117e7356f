import { Field, ID, InputType, Int } from '@nestjs/graphql';

@InputType('CheckoutInput', { description: 'A check-out request.' })
export class CheckoutInput {
  @Field(() => ID, { description: 'The pool to draw from.' })
  poolId!: string;

  @Field({ description: 'The App.key to check out.' })
  app!: string;

  @Field(() => ID, { nullable: true, description: 'The work unit the lease is charged to.' })
  workUnitId?: string | null;

  @Field(() => Int, { nullable: true, description: "Lease length: default the pool's defaultLeaseSeconds; 5 to maxLeaseSeconds." })
  leaseSeconds?: number | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Up to 255 printable ASCII characters. A retry with the same key and the same arguments (waitSeconds aside) returns the same lease; other arguments answer IDEMPOTENCY_CONFLICT; denials are not remembered. Kept with the lease, at least 72 h.',
  })
  idempotencyKey?: string | null;

  @Field(() => Int, {
    nullable: true,
    description:
      "Queue up to this long (0 to 300 s) for credits, first come first served. A cost above the pool's cap or the team's ceiling is refused at once, never queued; a principal may have QUEUE_MAX_PER_PRINCIPAL (default 20) check-outs waiting per pool and a pool QUEUE_MAX_PER_POOL (default 1,000): beyond, RATE_LIMITED.",
  })
  waitSeconds?: number | null;

  @Field(() => String, { nullable: true, description: 'The host the app runs on (for PRINCIPAL_HOST sharing), up to 255 characters.' })
  host?: string | null;

  @Field(() => ID, { nullable: true, description: 'A SERVICE key may check out for another principal of its organization.' })
  onBehalfOf?: string | null;
}
