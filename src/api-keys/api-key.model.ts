import { Field, ID, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Principal } from '../principals/principal.model';
import type { Role as RoleValue } from '../auth/role';

export const Role = { ADMIN: 'ADMIN', CLIENT: 'CLIENT', VIEWER: 'VIEWER' } as const satisfies Record<RoleValue, RoleValue>;
registerEnumType(Role, {
  name: 'Role',
  description: 'What a key may do inside its organization.',
  valuesMap: {
    ADMIN: { description: 'Everything: catalog, principals, keys, leases of anyone, reports.' },
    CLIENT: { description: 'Check out, heartbeat and check in its own leases; record work units, outcomes and compute usage.' },
    VIEWER: { description: 'Read pools, leases, work units, reports and exports.' },
  },
});

@ObjectType('ApiKey', { description: 'An API key. Its secret is shown once at creation and stored only as a hash.' })
export class ApiKey {
  @Field(() => ID, { description: 'The key id (not the secret).' })
  id!: string;

  @Field(() => Role, { description: 'What the key may do.' })
  role!: RoleValue;

  @Field(() => Principal, { description: 'The principal the key acts as.' })
  principal?: Principal;

  principalId!: string;

  @Field({ description: 'When the key was created.' })
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'When the key stops working; null for never.' })
  expiresAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'Last time the key authenticated a request (updated at most once a minute).' })
  lastUsedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the key was revoked; null while it is valid.' })
  revokedAt!: Date | null;
}

@ObjectType('ApiKeyCreated', { description: 'A new key with its secret. The secret is shown only here, once.' })
export class ApiKeyCreated {
  @Field(() => ID, { description: 'The key id.' })
  id!: string;

  @Field(() => Role, { description: 'What the key may do.' })
  role!: RoleValue;

  @Field({ description: 'The secret to send as `Authorization: Bearer <secret>`. Only its hash is stored.' })
  secret!: string;
}
