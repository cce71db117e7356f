import { Field, ID, InputType, Int } from '@nestjs/graphql';

@InputType('BorrowInput', { description: 'A borrow: a lease taken for hours or days, to run offline without heartbeats.' })
export class BorrowInput {
  @Field(() => ID, { description: 'The pool to draw from; its maxBorrowHours must allow the borrow.' })
  poolId!: string;

  @Field({ description: 'The App.key to borrow.' })
  app!: string;

  @Field(() => Int, { description: "How long, in hours: 1 to the pool's maxBorrowHours (BORROW_NOT_ALLOWED beyond)." })
  hours!: number;

  @Field({ description: 'The host (laptop) the app will run on, up to 255 characters.' })
  host!: string;

  @Field(() => ID, { nullable: true, description: 'The work unit the borrow is charged to.' })
  workUnitId?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Up to 255 printable ASCII characters: a retry with the same key and arguments returns the same lease, as for checkout.',
  })
  idempotencyKey?: string | null;
}
