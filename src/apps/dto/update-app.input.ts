import { Field, InputType, Int } from '@nestjs/graphql';
import type { ShareScope as ShareScopeValue } from '../catalog-app.entity';
import { ShareScope } from '../app.model';

@InputType('UpdateAppInput', { description: 'Changes to an app; omitted fields stay as they are. A new cost applies to new draws.' })
export class UpdateAppInput {
  @Field(() => String, { nullable: true, description: 'Display name, 1 to 200 characters.' })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'Vendor, up to 200 characters.' })
  vendor?: string | null;

  @Field(() => Int, { nullable: true, description: 'Credits one draw holds, 1 to 1,000,000.' })
  cost?: number | null;

  @Field(() => ShareScope, { nullable: true, description: 'Which leases share one draw.' })
  shareScope?: ShareScopeValue | null;

  @Field(() => Int, { nullable: true, description: 'Linger after check-in, 0 to 86,400 seconds.' })
  lingerSeconds?: number | null;

  @Field(() => Int, { nullable: true, description: 'Minimum charge per draw, 0 to 86,400 seconds.' })
  minimumChargeSeconds?: number | null;

  @Field(() => [String], { nullable: true, description: 'Replaces the names other license servers use for this app (up to 50, each 1 to 200 characters).' })
  externalNames?: string[] | null;
}
