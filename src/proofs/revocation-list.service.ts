import { Injectable } from '@nestjs/common';
import { SignJWT } from 'jose';
import { LeasesService } from '../leases/leases.service';
import { PROOF_ISSUER } from './lease-proofs.service';
import { SigningKeysService } from './signing-keys.service';

/** The JWS type of a revocation list: never taken for a lease proof (typ "JWT"), which a verifier must check. */
export const REVOCATION_LIST_TYPE = 'tokenpool-revocations+jwt';

/** One revoked borrowed lease in the list: NumericDates (seconds), as JWT claims are. */
export interface RevokedLease {
  leaseId: string;
  revokedAt: number;
  borrowedUntil: number;
}

/** The list's claims. */
export interface RevocationListClaims {
  iss: string;
  org: string;
  iat: number;
  revoked: RevokedLease[];
}

/**
 * The organization's revocation list: the borrowed leases an admin revoked whose proofs have
 * not expired yet (and an hour past, for tools with a slow clock), as a JWS signed with the
 * proofs' key. A tool that goes online fetches it and stops honouring the proofs it names;
 * offline, nothing can reach it, which is why a revoked borrowed lease keeps its credits
 * until its borrowedUntil.
 */
@Injectable()
export class RevocationListService {
  constructor(
    private readonly keys: SigningKeysService,
    private readonly leases: LeasesService,
  ) {}

  /** The signed list, compact JWS. An organization that does not exist (or revoked nothing) has an empty one. */
  async signedList(organizationId: string): Promise<string> {
    const revoked = await this.leases.revokedBorrowed(organizationId);
    const { kid, privateKey } = await this.keys.signingKey();
    return new SignJWT({ org: organizationId, revoked: revoked.map(revokedLease) })
      .setProtectedHeader({ alg: 'EdDSA', typ: REVOCATION_LIST_TYPE, kid })
      .setIssuer(PROOF_ISSUER)
      .setIssuedAt()
      .sign(privateKey);
  }
}

function revokedLease(lease: { id: string; revokedAt: Date; borrowedUntil: Date }): RevokedLease {
  return { leaseId: lease.id, revokedAt: Math.floor(lease.revokedAt.getTime() / 1000), borrowedUntil: Math.floor(lease.borrowedUntil.getTime() / 1000) };
}
