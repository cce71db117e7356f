import { Field, ID, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Organization } from '../organizations/organization.model';
import type { PrincipalKind as PrincipalKindValue } from '../auth/principal-kind';
import type { OrgUnitKind as OrgUnitKindValue } from './principal.entity';

export const PrincipalKind = { USER: 'USER', AGENT: 'AGENT', SERVICE: 'SERVICE' } as const satisfies Record<PrincipalKindValue, PrincipalKindValue>;
registerEnumType(PrincipalKind, {
  name: 'PrincipalKind',
  description: 'Who checks out: a person, an AI agent, or a service acting for people (e.g. an app installed on many desks).',
  valuesMap: {
    USER: { description: 'A person.' },
    AGENT: { description: 'An AI agent.' },
    SERVICE: { description: 'A service; may check out on behalf of other principals.' },
  },
});

export const OrgUnitKind = { CHANGE: 'CHANGE', GOING_CONCERN: 'GOING_CONCERN' } as const satisfies Record<OrgUnitKindValue, OrgUnitKindValue>;
registerEnumType(OrgUnitKind, {
  name: 'OrgUnitKind',
  description: 'Where the consumption burns: transformation work or daily operations.',
  valuesMap: {
    CHANGE: { description: 'The change organisation: pilots, innovation programmes, transformation projects.' },
    GOING_CONCERN: { description: 'The going concern: daily planning, production, quality, maintenance, engineering, service.' },
  },
});

@ObjectType('Principal', { description: 'Who acts: a user, an agent or a service, in a team, in the change organisation or the going concern.' })
export class Principal {
  @Field(() => ID, { description: 'The principal id.' })
  id!: string;

  @Field({ description: 'Display name.' })
  name!: string;

  @Field(() => PrincipalKind, { description: 'A user, an agent or a service.' })
  kind!: PrincipalKindValue;

  @Field(() => String, { nullable: true, description: 'The team whose reservations and ceilings apply to this principal.' })
  team!: string | null;

  @Field(() => OrgUnitKind, { description: 'Change organisation or going concern.' })
  orgUnitKind!: OrgUnitKindValue;

  @Field(() => Organization, { description: 'The organization the principal belongs to.' })
  organization?: Organization;

  organizationId!: string;
}
