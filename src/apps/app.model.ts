import { Field, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import type { ShareScope as ShareScopeValue } from './catalog-app.entity';

export const ShareScope = { NONE: 'NONE', PRINCIPAL: 'PRINCIPAL', PRINCIPAL_HOST: 'PRINCIPAL_HOST', WORK_UNIT: 'WORK_UNIT' } as const satisfies Record<
  ShareScopeValue,
  ShareScopeValue
>;
registerEnumType(ShareScope, {
  name: 'ShareScope',
  description: 'Which leases of one app share one draw of its cost (held from the first one start to the last one end, charged once).',
  valuesMap: {
    NONE: { description: 'Every lease draws the full cost.' },
    PRINCIPAL: { description: 'Leases of the same principal share one draw.' },
    PRINCIPAL_HOST: { description: 'Leases of the same principal on the same host share one draw (Altair-style leveling).' },
    WORK_UNIT: { description: 'Leases of the same work unit share one draw (all sub-agents of one agent run).' },
  },
});

@ObjectType('App', { description: 'A licensed tool or agent tool, with its cost in credits per draw.' })
export class App {
  @Field(() => ID, { description: 'The app id.' })
  id!: string;

  @Field({ description: 'Stable slug used by clients to check the app out, unique in the organization.' })
  key!: string;

  @Field({ description: 'Display name.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Vendor, e.g. Altair or Siemens.' })
  vendor!: string | null;

  @Field(() => Int, { description: 'Credits one draw holds.' })
  cost!: number;

  @Field(() => ShareScope, { description: 'Which leases share one draw.' })
  shareScope!: ShareScopeValue;

  @Field(() => Int, { description: 'Seconds the credits stay held after check-in, so a quick reopen does not draw again (default 0).' })
  lingerSeconds!: number;

  @Field(() => Int, { description: 'A draw is charged at least this many seconds (default 0).' })
  minimumChargeSeconds!: number;

  @Field(() => [String], {
    description: 'Names other license servers use for this app (FlexNet or RLM feature names), matched exactly when their logs are imported.',
  })
  externalNames!: string[];

  poolId!: string;
}
