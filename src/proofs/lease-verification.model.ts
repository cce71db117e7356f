import { Field, ObjectType } from '@nestjs/graphql';
import { Lease } from '../leases/lease.model';
import type { VerificationReason } from './lease-verdict';

@ObjectType('LeaseVerification', { description: 'What verifyLease concluded about a lease proof.' })
export class LeaseVerification {
  @Field({
    description:
      'True when the proof was signed by this service, names a lease of your organization that is active and unexpired, and carries its current fencing token.',
  })
  valid!: boolean;

  @Field(() => Lease, { nullable: true, description: 'The lease the proof names, as it is now; null for BAD_SIGNATURE and NOT_FOUND.' })
  lease!: Lease | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Why not valid: EXPIRED, RELEASED, REVOKED, BAD_SIGNATURE (malformed, tampered or not signed by a published key), NOT_FOUND (no such lease in your organization), or STALE_FENCING_TOKEN (the proof carries an older fencing token than the lease holds now, e.g. after a rebuild). Null when valid.',
  })
  reason!: VerificationReason | null;
}
