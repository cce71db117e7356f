import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet, type KeyLike } from 'jose';
import { assertNotRevoked, TokenpoolError, verifyProofOffline, verifyRevocationList, type RevocationListClaims } from '@tokenpool/client';

/** The offline proof checks with a key made here: the clock, the typ, the required claims, the revocation list. */
describe('verifyProofOffline', () => {
  const org = randomUUID();
  const leaseId = randomUUID();
  const exp = 1_900_000_000;
  let privateKey: KeyLike;
  let keys: JSONWebKeySet;
  let otherKeys: JSONWebKeySet;

  const sign = (payload: Record<string, unknown>, typ: string, key = privateKey) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', typ, kid: 'k1' }).setIssuer('tokenpool').sign(key);
  const proof = (extra: Record<string, unknown> = {}) =>
    sign({ sub: leaseId, org, pool: 'p', app: 'a', prn: 'x', fence: '1', iat: exp - 3600, exp, ...extra }, 'JWT');
  const listJws = (revoked: unknown[], listOrg = org) => sign({ org: listOrg, iat: exp - 60, revoked }, 'tokenpool-revocations+jwt');

  async function codeOf(promise: Promise<unknown>): Promise<string> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TokenpoolError);
    return (err as TokenpoolError).code;
  }

  beforeAll(async () => {
    const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    privateKey = pair.privateKey;
    keys = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' }] };
    const other = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    otherKeys = { keys: [{ ...(await exportJWK(other.publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' }] };
  });

  it('is valid before exp and EXPIRED at and after it, on the given clock', async () => {
    const token = await proof();
    await expect(verifyProofOffline(token, { keys, now: new Date((exp - 1) * 1000) })).resolves.toMatchObject({ sub: leaseId, exp });
    expect(await codeOf(verifyProofOffline(token, { keys, now: new Date(exp * 1000) }))).toBe('EXPIRED');
    expect(await codeOf(verifyProofOffline(token, { keys, now: new Date((exp + 1) * 1000) }))).toBe('EXPIRED');
    // With a trailing newline, as a file may have it.
    await expect(verifyProofOffline(`${token}\n`, { keys, now: new Date((exp - 1) * 1000) })).resolves.toMatchObject({ sub: leaseId });
  });

  it('refuses another key, another typ, and a token without sub or exp', async () => {
    const now = new Date((exp - 10) * 1000);
    expect(await codeOf(verifyProofOffline(await proof(), { keys: otherKeys, now }))).toBe('BAD_SIGNATURE');
    const wrongTyp = await sign({ sub: leaseId, org, exp }, 'tokenpool-revocations+jwt');
    expect(await codeOf(verifyProofOffline(wrongTyp, { keys, now }))).toBe('BAD_SIGNATURE');
    expect(await codeOf(verifyProofOffline(await sign({ org, exp }, 'JWT'), { keys, now }))).toBe('BAD_SIGNATURE');
    expect(await codeOf(verifyProofOffline(await sign({ sub: leaseId, org }, 'JWT'), { keys, now }))).toBe('BAD_SIGNATURE');
    expect(await codeOf(verifyProofOffline('not.a.jwt', { keys, now }))).toBe('BAD_SIGNATURE');
    expect(await codeOf(verifyProofOffline(await proof(), { keys: {} as JSONWebKeySet, now }))).toBe('BAD_REQUEST');
  });

  it('refuses REVOKED a proof the verified list names, and passes one it does not', async () => {
    const now = new Date((exp - 10) * 1000);
    const jws = await listJws([{ leaseId, revokedAt: exp - 100, borrowedUntil: exp }]);
    const list = await verifyRevocationList(jws, { keys });
    expect(list).toMatchObject({ iss: 'tokenpool', org, revoked: [{ leaseId }] });
    expect(await codeOf(verifyProofOffline(await proof(), { keys, now, revocationList: list }))).toBe('REVOKED');
    expect(await codeOf(verifyProofOffline(await proof(), { keys, now, revocationList: jws }))).toBe('REVOKED');
    const otherLease = await proof({ sub: randomUUID() });
    await expect(verifyProofOffline(otherLease, { keys, now, revocationList: list })).resolves.toBeDefined();
    expect(() => assertNotRevoked({ sub: leaseId, org: randomUUID() }, list)).toThrow('the revocation list is organization');
  });

  it('takes no proof for a revocation list, and no list signed by another key or of the wrong shape', async () => {
    expect(await codeOf(verifyRevocationList(await proof(), { keys }))).toBe('BAD_SIGNATURE');
    expect(await codeOf(verifyRevocationList(await listJws([]), { keys: otherKeys }))).toBe('BAD_SIGNATURE');
    expect(await codeOf(verifyRevocationList(await listJws([{ leaseId: 7 }]), { keys }))).toBe('BAD_SIGNATURE');
    const empty: RevocationListClaims = await verifyRevocationList(await listJws([]), { keys });
    expect(empty.revoked).toEqual([]);
  });
});
