import { Args, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import type { AuthContext } from '../auth/auth-context';
import { CurrentAuth } from '../auth/current-auth.decorator';
import { Roles } from '../auth/roles.decorator';
import { Lease } from '../leases/lease.model';
import { LeaseProofsService } from './lease-proofs.service';
import { LeaseVerification } from './lease-verification.model';

/** Lease.proof and verifyLease live with the proofs, so the leases feature never deals with keys. */
@Resolver(() => Lease)
export class LeaseProofResolver {
  constructor(private readonly proofs: LeaseProofsService) {}

  @ResolveField('proof', () => String, {
    nullable: true,
    description:
      'Signed proof for tools: a JWT signed with EdDSA (Ed25519), verifiable with the keys published at GET /.well-known/jwks.json. Claims: iss "tokenpool", sub (lease id), org, pool, app, prn (principal id), fence (fencing token), iat, exp (= expiresAt). A heartbeat issues a fresh proof with the new exp. Null unless the lease is ACTIVE and the caller is its holder, the SERVICE principal that checked it out for the holder, or an ADMIN key. An offline verifier accepts a proof until its exp; online, verifyLease also checks the state.',
  })
  async proof(@Parent() lease: Lease, @CurrentAuth() auth: AuthContext): Promise<string | null> {
    return this.proofs.proofFor(auth, lease);
  }

  @Roles('ADMIN', 'CLIENT', 'VIEWER')
  @Query(() => LeaseVerification, {
    description:
      'Checks a lease proof against the published keys and the lease as it is now. A bad proof is an answer (valid false with a reason), never an error.',
  })
  async verifyLease(
    @CurrentAuth() auth: AuthContext,
    @Args('proof', { description: 'A Lease.proof JWT, at most 4096 characters.' }) proof: string,
  ): Promise<LeaseVerification> {
    return this.proofs.verify(auth, proof);
  }
}
