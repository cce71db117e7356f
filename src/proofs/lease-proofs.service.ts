import { Injectable } from '@nestjs/common';
import DataLoader from 'dataloader';
import { errors, JWSHeaderParameters, JWTPayload, jwtVerify, KeyLike, SignJWT } from 'jose';
import type { AuthContext } from '../auth/auth-context';
import { AppError } from '../common/errors/app-error';
import { isUuid } from '../common/validation/validate';
import type { Lease } from '../leases/lease.model';
import { mayActOnLease } from '../leases/lease-access';
import { leaseView } from '../leases/lease-view';
import { LeasesService } from '../leases/leases.service';
import type { LeaseVerification } from './lease-verification.model';
import { VerificationReason, verdictFor } from './lease-verdict';
import { SigningKeysService } from './signing-keys.service';

export const PROOF_ISSUER = 'tokenpool';
export const MAX_PROOF_LENGTH = 4096;

/** The claims of a lease proof besides iss, iat and exp. */
interface LeaseClaims {
  sub: string;
  org: string;
  pool: string;
  app: string;
  prn: string;
  fence: string;
}

/** Signs lease proofs and checks them for callers. */
@Injectable()
export class LeaseProofsService {
  constructor(
    private readonly keys: SigningKeysService,
    private readonly leases: LeasesService,
  ) {}

  /**
   * A proof for the caller, or null: only of a lease that is ACTIVE and not past its
   * expiresAt, and only to whom may act on it (lease-access: its holder, the SERVICE that
   * checked it out for the holder, an ADMIN key). A proof is a credential a tool accepts
   * offline until its exp, so it is never handed to a reader or for a lease that ended.
   */
  async proofFor(auth: AuthContext, lease: Lease): Promise<string | null> {
    if (lease.state !== 'ACTIVE' || lease.expiresAt.getTime() <= Date.now()) return null;
    // A lease view does not carry who asked for the lease. It decides only for a CLIENT that is
    // not the holder (a SERVICE on the holder's behalf), so only then is it read.
    const asksOnBehalf = auth.role === 'CLIENT' && lease.principalId !== auth.principalId;
    const requestedByPrincipalId = asksOnBehalf ? await this.requesters.load(lease.id) : lease.principalId;
    if (requestedByPrincipalId === null || !mayActOnLease(auth, { principalId: lease.principalId, requestedByPrincipalId })) return null;
    return this.sign(lease);
  }

  /** Who asked for each lease (its requested_by_principal_id), for a page of leases in one query. */
  private readonly requesters = new DataLoader<string, string | null>(
    async (ids) => {
      const byId = await this.leases.requestersOf([...ids]);
      return ids.map((id) => byId.get(id) ?? null);
    },
    { cache: false, maxBatchSize: 200, batchScheduleFn: (flush) => setImmediate(flush) },
  );

  /** A proof of the lease as it stands: exp is its expiresAt, so each heartbeat yields a later one. */
  private async sign(lease: Lease): Promise<string> {
    const { kid, privateKey } = await this.keys.signingKey();
    const claims: Omit<LeaseClaims, 'sub'> = {
      org: lease.organizationId,
      pool: lease.poolId,
      app: lease.appId,
      prn: lease.principalId,
      fence: lease.fencingToken,
    };
    return (
      new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid })
        .setIssuer(PROOF_ISSUER)
        .setSubject(lease.id)
        .setIssuedAt()
        // Rounded down, so a proof never outlives its lease.
        .setExpirationTime(Math.floor(lease.expiresAt.getTime() / 1000))
        .sign(privateKey)
    );
  }

  /**
   * Checks a proof for a caller. A bad proof is an answer, not an error. Only the caller's
   * organization is searched: another organization's proof reads NOT_FOUND and shows
   * nothing of its lease.
   */
  async verify(auth: AuthContext, proof: string): Promise<LeaseVerification> {
    if (proof.length > MAX_PROOF_LENGTH) throw AppError.badInput('proof', `proof must be at most ${MAX_PROOF_LENGTH} characters`);
    const genuine = await this.genuineClaims(proof);
    if (!genuine) return refused('BAD_SIGNATURE');
    const { claims, expired } = genuine;
    const row = claims.org === auth.organizationId ? await this.leases.leaseInOrganization(auth.organizationId, claims.sub) : null;
    if (!row) return refused('NOT_FOUND');
    const lease = leaseView(row);
    const reason = verdictFor({ fence: claims.fence, expired }, lease);
    return { valid: reason === null, lease, reason };
  }

  /** The claims of a proof signed with a published key (expired or not); null for anything else. */
  private async genuineClaims(proof: string): Promise<{ claims: LeaseClaims; expired: boolean } | null> {
    let payload: JWTPayload;
    let expired = false;
    try {
      ({ payload } = await jwtVerify(proof, (header) => this.keyFor(header), {
        issuer: PROOF_ISSUER,
        typ: 'JWT',
        algorithms: ['EdDSA'],
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      if (err instanceof errors.JWTExpired) {
        // jose checks the signature and the issuer before exp: an expired proof is still genuine.
        payload = err.payload;
        expired = true;
      } else if (err instanceof errors.JOSEError) {
        // Malformed, tampered, signed by a key this service never published, or another issuer.
        return null;
      } else {
        throw err;
      }
    }
    const claims = leaseClaims(payload);
    return claims ? { claims, expired } : null;
  }

  private async keyFor(header: JWSHeaderParameters): Promise<KeyLike> {
    const key = await this.keys.verificationKey(header.kid);
    if (!key) throw new errors.JWKSNoMatchingKey();
    return key;
  }
}

function refused(reason: VerificationReason): LeaseVerification {
  return { valid: false, lease: null, reason };
}

function uuidClaim(value: unknown): value is string {
  return typeof value === 'string' && isUuid(value);
}

function leaseClaims(payload: JWTPayload): LeaseClaims | null {
  const { sub, org, pool, app, prn, fence } = payload;
  if (!uuidClaim(sub) || !uuidClaim(org) || !uuidClaim(pool) || !uuidClaim(app) || !uuidClaim(prn)) return null;
  if (typeof fence !== 'string' || !/^\d{1,20}$/.test(fence)) return null;
  return { sub, org, pool, app, prn, fence };
}
