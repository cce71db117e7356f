import { Field, InputType } from '@nestjs/graphql';
import type { PrincipalKind as PrincipalKindValue } from '../../auth/principal-kind';
import type { OrgUnitKind as OrgUnitKindValue } from '../principal.entity';
import { OrgUnitKind, PrincipalKind } from '../principal.model';

@InputType('CreatePrincipalInput', { description: 'A new user, agent or service of the caller organization.' })
export class CreatePrincipalInput {
  @Field({ description: 'Display name, 1 to 200 characters.' })
  name!: string;

  @Field(() => PrincipalKind, { description: 'A user, an agent or a service.' })
  kind!: PrincipalKindValue;

  @Field(() => String, { nullable: true, description: 'Team name, 1 to 100 characters; null for none.' })
  team?: string | null;

  @Field(() => OrgUnitKind, { description: 'Change organisation or going concern.' })
  orgUnitKind!: OrgUnitKindValue;
}
