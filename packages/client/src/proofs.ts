import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { isRecord, TokenpoolError } from './errors';
import type { FetchLike } from './transport';

/**
 * Offline verification of lease proofs: EdDSA JWTs checked against the public keys at
 * GET <url>/.well-known/jwks.json. The key set is fetched on first use and cached; a proof
 * signed with a key id the cache does not know makes it fetch the set again (at most every
 * 30 s), which is how a rotated signing key is picked up. No API key is needed or sent.
 *
 * Offline means what it says: a proof stays valid until its `exp` even if the lease was
 * checked in or revoked since (the server's verifyLease query checks that). For a borrowed
 * lease (its proof's exp is its borrowedUntil) there is one more check that works without
 * the server: the organization's revocation list (GET /.well-known/revoked-leases/<org id>),
 * a JWS signed with the same keys, fetched whenever the tool is online and kept.
 *
 * With keys saved earlier (`verifyProofOffline`) nothing is fetched at all.
 */

/** The JWS `typ` of a lease proof; anything else (a revocation list, say) is never taken for one. */
export const PROOF_TYPE = 'JWT';
/** The JWS `typ` of a revocation list. */
export const REVOCATION_LIST_TYPE = 'tokenpool-revocations+jwt';

const ISSUER = 'tokenpool';

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
  /** Expiry (NumericDate, seconds); a borrowed lease's borrowedUntil. */
  exp: number;
}

/** One revoked borrowed lease of a revocation list; times are NumericDates (seconds). */
export interface RevokedLease {
  leaseId: string;
  revokedAt: number;
  borrowedUntil: number;
}

/** The verified claims of an organization's revocation list. */
export interface RevocationListClaims {
  iss: string;
  /** The organization id. */
  org: string;
  /** When the server signed it (NumericDate, seconds): how fresh the list is. */
  iat: number;
  revoked: RevokedLease[];
}

/** A verified revocation list: its claims and the JWS they came from (to save for later offline checks). */
export interface RevocationList extends RevocationListClaims {
  jws: string;
}

/** A set of public keys as GET /.well-known/jwks.json answers it (`{ keys: [...] }`). */
export type { JSONWebKeySet };

export interface VerifyProofOptions {
  /** The clock the proof's exp is checked against (default: the real time). */
  now?: Date;
  /**
   * A revocation list: verified claims (from fetchRevocationList / verifyRevocationList), or
   * its JWS text, verified here with the same keys. A proof it names is refused with REVOKED.
   */
  revocationList?: RevocationListClaims | string;
}

export interface OfflineVerifyOptions extends VerifyProofOptions {
  /** The public keys saved earlier (the JSON of /.well-known/jwks.json). */
  keys: JSONWebKeySet;
}

export class ProofVerifier {
  readonly #jwks: Keys;

  constructor(url: string) {
    this.#jwks = { get: createRemoteJWKSet(new URL(jwksUrl(url)), { cooldownDuration: 30_000, timeoutDuration: 10_000 }), remote: true };
  }

  /**
   * Resolves to the proof's claims; rejects with BAD_SIGNATURE (malformed, tampered, not ours,
   * not a proof), EXPIRED, REVOKED (named in options.revocationList), or UNAVAILABLE when the
   * keys could not be fetched.
   */
  async verify(proof: string, options: VerifyProofOptions = {}): Promise<ProofClaims> {
    return verifyProofWith(this.#jwks, proof, options);
  }

  /** Verifies a revocation list's JWS with the server's keys: its claims, or BAD_SIGNATURE / UNAVAILABLE. */
  async verifyRevocationList(jws: string): Promise<RevocationListClaims> {
    return verifyRevocationListWith(this.#jwks, jws);
  }
}

/**
 * Verifies a lease proof with no network at all: the signature against `keys` (a JWKS saved
 * earlier), the header typ "JWT", the issuer, the claims sub and exp, and exp against
 * `now` (EXPIRED at or after exp). With `revocationList`, a proof it names is refused with
 * REVOKED. Resolves to the claims; rejects with a TokenpoolError (BAD_SIGNATURE, EXPIRED,
 * REVOKED, or BAD_REQUEST for a revocation list of another organization).
 */
export async function verifyProofOffline(proof: string, options: OfflineVerifyOptions): Promise<ProofClaims> {
  return verifyProofWith(localKeys(options.keys), proof, options);
}

/** Verifies a revocation list's JWS offline, against keys saved earlier: its claims, or BAD_SIGNATURE. */
export async function verifyRevocationList(jws: string, options: { keys: JSONWebKeySet }): Promise<RevocationListClaims> {
  return verifyRevocationListWith(localKeys(options.keys), jws);
}

/**
 * Refuses (REVOKED) a proof whose lease the verified revocation list names. A list of another
 * organization says nothing about the proof: BAD_REQUEST, so a mixed-up file does not pass
 * for a check.
 */
export function assertNotRevoked(claims: Pick<ProofClaims, 'sub' | 'org'>, list: RevocationListClaims): void {
  if (list.org !== claims.org) {
    throw new TokenpoolError('BAD_REQUEST', `the revocation list is organization ${list.org}'s, the proof organization ${claims.org}'s`);
  }
  const entry = list.revoked.find((r) => r.leaseId === claims.sub);
  if (entry) {
    throw new TokenpoolError('REVOKED', `lease ${claims.sub} was revoked at ${new Date(entry.revokedAt * 1000).toISOString()}`, {
      extensions: { leaseId: entry.leaseId, revokedAt: entry.revokedAt, borrowedUntil: entry.borrowedUntil, state: 'REVOKED' },
    });
  }
}

/** GET <url>/.well-known/jwks.json: the public keys, to save for offline checks. UNAVAILABLE when it cannot be read. */
export async function fetchJwks(url: string, options: { fetch?: FetchLike; signal?: AbortSignal } = {}): Promise<JSONWebKeySet> {
  const body = await fetchText(jwksUrl(url), 'the signing keys (/.well-known/jwks.json)', options);
  let jwks: unknown;
  try {
    jwks = JSON.parse(body);
  } catch (err) {
    throw new TokenpoolError('UNAVAILABLE', 'the signing keys (/.well-known/jwks.json) are not JSON', { cause: err });
  }
  if (!isRecord(jwks) || !Array.isArray(jwks.keys)) throw new TokenpoolError('UNAVAILABLE', 'the signing keys (/.well-known/jwks.json) are not a JWKS');
  return jwks as unknown as JSONWebKeySet;
}

/**
 * GET <url>/.well-known/revoked-leases/<organizationId>, verified (typ
 * "tokenpool-revocations+jwt", signature, issuer, org): the claims and the JWS. The keys are
 * `options.keys` when given, else the server's (fetched).
 */
export async function fetchRevocationList(
  url: string,
  organizationId: string,
  options: { keys?: JSONWebKeySet; fetch?: FetchLike; signal?: AbortSignal } = {},
): Promise<RevocationList> {
  const target = `${url.replace(/\/+$/, '')}/.well-known/revoked-leases/${encodeURIComponent(organizationId)}`;
  const jws = (await fetchText(target, 'the revocation list', options)).trim();
  const keys = options.keys ?? (await fetchJwks(url, options));
  const claims = await verifyRevocationListWith(localKeys(keys), jws);
  if (claims.org !== organizationId) throw new TokenpoolError('BAD_SIGNATURE', `the revocation list fetched for ${organizationId} is ${claims.org}'s`);
  return { ...claims, jws };
}

function jwksUrl(url: string): string {
  return `${url.replace(/\/+$/, '')}/.well-known/jwks.json`;
}

function localKeys(keys: JSONWebKeySet): Keys {
  if (!isRecord(keys) || !Array.isArray((keys as { keys?: unknown }).keys)) {
    throw new TokenpoolError('BAD_REQUEST', 'the keys are not a JWKS (the JSON of /.well-known/jwks.json: { "keys": [...] })');
  }
  return { get: createLocalJWKSet(keys), remote: false };
}

async function fetchText(url: string, what: string, options: { fetch?: FetchLike; signal?: AbortSignal }): Promise<string> {
  const doFetch: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  let res: Response;
  try {
    res = await doFetch(url, { method: 'GET', signal: options.signal ?? AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new TokenpoolError('UNAVAILABLE', `${what} could not be fetched (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  const body = await res.text();
  if (!res.ok) {
    const code = res.status === 404 ? 'NOT_FOUND' : 'UNAVAILABLE';
    throw new TokenpoolError(code, `${what} could not be fetched: HTTP ${res.status}`, { status: res.status });
  }
  return body;
}

/** A key set and whether it is fetched (its failures are UNAVAILABLE) or local (every failure is the token's). */
interface Keys {
  get: JWTVerifyGetKey;
  remote: boolean;
}

async function verifyProofWith(keys: Keys, proof: string, options: VerifyProofOptions): Promise<ProofClaims> {
  let claims: ProofClaims;
  try {
    const { payload } = await jwtVerify(proof.trim(), keys.get, {
      issuer: ISSUER,
      algorithms: ['EdDSA'],
      typ: PROOF_TYPE,
      requiredClaims: ['sub', 'exp'],
      currentDate: options.now,
    });
    claims = payload as unknown as ProofClaims;
  } catch (err) {
    throw toTokenpoolError(err, 'the lease proof', keys.remote);
  }
  if (options.revocationList !== undefined) {
    const list = typeof options.revocationList === 'string' ? await verifyRevocationListWith(keys, options.revocationList) : options.revocationList;
    assertNotRevoked(claims, list);
  }
  return claims;
}

async function verifyRevocationListWith(keys: Keys, jws: string): Promise<RevocationListClaims> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(jws.trim(), keys.get, {
      issuer: ISSUER,
      algorithms: ['EdDSA'],
      typ: REVOCATION_LIST_TYPE,
      requiredClaims: ['org', 'iat', 'revoked'],
    }));
  } catch (err) {
    throw toTokenpoolError(err, 'the revocation list', keys.remote);
  }
  const revoked = payload.revoked;
  const wellFormed =
    typeof payload.org === 'string' &&
    Array.isArray(revoked) &&
    revoked.every((r) => isRecord(r) && typeof r.leaseId === 'string' && typeof r.revokedAt === 'number' && typeof r.borrowedUntil === 'number');
  if (!wellFormed) throw new TokenpoolError('BAD_SIGNATURE', 'the revocation list is signed but not of the expected shape');
  return payload as unknown as RevocationListClaims;
}

function toTokenpoolError(err: unknown, what: string, remote: boolean): TokenpoolError {
  if (err instanceof TokenpoolError) return err;
  if (err instanceof errors.JWTExpired) return new TokenpoolError('EXPIRED', `${what} has expired`, { cause: err });
  const unreachable = remote && (err instanceof errors.JWKSTimeout || !(err instanceof errors.JOSEError) || err.code === 'ERR_JOSE_GENERIC');
  if (unreachable) return new TokenpoolError('UNAVAILABLE', 'the signing keys (/.well-known/jwks.json) could not be fetched', { cause: err });
  const detail =
    err instanceof errors.JWTClaimValidationFailed && err.claim === 'typ'
      ? ` (its typ is not "${what === 'the lease proof' ? PROOF_TYPE : REVOCATION_LIST_TYPE}")`
      : '';
  return new TokenpoolError(
    'BAD_SIGNATURE',
    `${what} is not a valid tokenpool ${what === 'the lease proof' ? 'proof' : 'revocation list'}${detail} (malformed, tampered or signed by an unknown key)`,
    {
      cause: err,
    },
  );
}
