import { Field, ID, InputType, Int } from '@nestjs/graphql';
import type { ShareScope as ShareScopeValue } from '../catalog-app.entity';
import { ShareScope } from '../app.model';

@InputType('CreateAppInput', { description: 'A new app in a pool.' })
export class CreateAppInput {
  @Field(() => ID, { description: 'The pool the app draws from.' })
  poolId!: string;

  @Field({ description: 'Slug clients use: lower-case letters, digits, ".", "_" or "-", 1 to 64, unique in the organization.' })
  key!: string;

  @Field({ description: 'Display name, 1 to 200 characters.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Vendor, up to 200 characters.' })
  vendor?: string | null;

  @Field(() => Int, { description: 'Credits one draw holds, 1 to 1,000,000.' })
  cost!: number;

  @Field(() => ShareScope, { nullable: true, description: 'Which leases share one draw (default NONE).' })
  shareScope?: ShareScopeValue | null;

  @Field(() => Int, { nullable: true, description: 'Linger after check-in, 0 to 86,400 seconds (default 0).' })
  lingerSeconds?: number | null;

  @Field(() => Int, { nullable: true, description: 'Minimum charge per draw, 0 to 86,400 seconds (default 0).' })
  minimumChargeSeconds?: number | null;

  @Field(() => [String], {
    nullable: true,
    description:
      "Names other license servers use for this app (FlexNet or RLM feature names; up to 50, each 1 to 200 characters), matched exactly when their logs are imported; none by default (the app's key then matches, case-insensitively).",
  })
  externalNames?: string[] | null;
}
