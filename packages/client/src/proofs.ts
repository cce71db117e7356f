import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import { TokenpoolError } from './errors';

/**
 * Offline verification of lease proofs: EdDSA JWTs checked against the public keys at
 * GET <url>/.well-known/jwks.json. The key set is fetched on first use and cached; a proof
 * signed with a key id the cache does not know makes it fetch the set again (at most every
 * 30 s), which is how a rotated signing key is picked up. No API key is needed or sent.
 *
 * Offline means what it says: a proof stays valid until its `exp` even if the lease was
 * checked in or revoked since (the server's verifyLease query checks that).
 */

/** The claims of a lease proof. */
export interface ProofClaims {
  iss: string;
  /** The lease id. */
  sub: string;
  org: string;
  pool: string;
  app: string;
  /** The holder's principal id. */
  prn: string;
  /** The fencing token, a decimal integer (compare as BigInt). */
  fence: string;
  iat: number;
  exp: number;
}

export class ProofVerifier {
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(url: string) {
    this.#jwks = createRemoteJWKSet(new URL(`${url.replace(/\/+$/, '')}/.well-known/jwks.json`), { cooldownDuration: 30_000, timeoutDuration: 10_000 });
  }

  /** Resolves to the proof's claims; rejects with BAD_SIGNATURE (malformed, tampered, not ours), EXPIRED, or UNAVAILABLE when the keys could not be fetched. */
  async verify(proof: string): Promise<ProofClaims> {
    try {
      const { payload } = await jwtVerify(proof, this.#jwks, { issuer: 'tokenpool', algorithms: ['EdDSA'] });
      return payload as unknown as ProofClaims;
    } catch (err) {
      throw toTokenpoolError(err);
    }
  }
}

function toTokenpoolError(err: unknown): TokenpoolError {
  if (err instanceof errors.JWTExpired) return new TokenpoolError('EXPIRED', 'the lease proof has expired', { cause: err });
  const unreachable = err instanceof errors.JWKSTimeout || !(err instanceof errors.JOSEError) || err.code === 'ERR_JOSE_GENERIC';
  if (unreachable) return new TokenpoolError('UNAVAILABLE', 'the signing keys (/.well-known/jwks.json) could not be fetched', { cause: err });
  return new TokenpoolError('BAD_SIGNATURE', 'the lease proof is not a valid tokenpool proof (malformed, tampered or signed by an unknown key)', {
    cause: err,
  });
}
