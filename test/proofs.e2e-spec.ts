import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  JSONWebKeySet,
  jwtVerify,
  SignJWT,
} from 'jose';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { SigningKeyEntity } from '../src/proofs/signing-key.entity';
import { SigningKeysService } from '../src/proofs/signing-keys.service';
import { codeOf, TestApp } from './support/app';
import { createPool } from './support/catalog';

const LEASE = 'id fencingToken state expiresAt proof';
const CHECKOUT = `mutation($input: CheckoutInput!) { checkout(input: $input) { ${LEASE} } }`;
const VERIFY = 'query($proof: String!) { verifyLease(proof: $proof) { valid reason lease { id state fencingToken } } }';

interface ProofLease {
  id: string;
  fencingToken: string;
  state: string;
  expiresAt: string;
  proof: string;
}

interface Verification {
  valid: boolean;
  reason: string | null;
  lease: { id: string; state: string; fencingToken: string } | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The proof with its payload rewritten and the original signature kept. */
function tampered(proof: string, change: (claims: Record<string, unknown>) => void): string {
  const [header, payload, signature] = proof.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  change(claims);
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}

describe('lease proofs: signed JWTs, the JWKS, verifyLease', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let org: { organizationId: string; adminKey: string };
  let client: { key: string; principalId: string };
  let pool: Awaited<ReturnType<typeof createPool>>;

  beforeAll(async () => {
    t = await TestApp.start();
    dataSource = t.app.get(DataSource);
    org = await t.organization('proofs');
    client = await t.principalWithKey(org.adminKey, 'CLIENT', { name: 'agent-proofs', kind: 'AGENT' });
    pool = await createPool(t, org.adminKey, { cap: 1000, apps: [{ key: 'tool', cost: 1 }] });
  });

  afterAll(async () => {
    await t.close();
  });

  async function checkout(options: { key?: string; leaseSeconds?: number } = {}): Promise<ProofLease> {
    const res = await t.gql<{ checkout: ProofLease }>(options.key ?? client.key, CHECKOUT, {
      input: { poolId: pool.poolId, app: pool.keyOf('tool'), leaseSeconds: options.leaseSeconds },
    });
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    return res.data.checkout;
  }

  async function verify(proof: string, key = client.key): Promise<Verification> {
    const res = await t.gql<{ verifyLease: Verification }>(key, VERIFY, { proof });
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    return res.data.verifyLease;
  }

  async function fetchJwks(): Promise<JSONWebKeySet> {
    const res = await request(t.server).get('/.well-known/jwks.json').expect(200);
    return res.body as JSONWebKeySet;
  }

  async function verifyOffline(proof: string) {
    return jwtVerify(proof, createLocalJWKSet(await fetchJwks()), { issuer: 'tokenpool' });
  }

  it('verifies offline with a standard JWT library and the published JWKS, with claims that describe the lease', async () => {
    const lease = await checkout();
    const { payload, protectedHeader } = await verifyOffline(lease.proof);
    expect(protectedHeader).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: expect.any(String) });
    expect(payload).toEqual({
      iss: 'tokenpool',
      sub: lease.id,
      org: org.organizationId,
      pool: pool.poolId,
      app: pool.apps.tool,
      prn: client.principalId,
      fence: lease.fencingToken,
      iat: expect.any(Number),
      exp: Math.floor(Date.parse(lease.expiresAt) / 1000),
    });
    expect(Math.abs((payload.iat ?? 0) - Date.now() / 1000)).toBeLessThan(60);
  });

  it('verifies online: valid, with the lease', async () => {
    const lease = await checkout();
    expect(await verify(lease.proof)).toEqual({ valid: true, reason: null, lease: { id: lease.id, state: 'ACTIVE', fencingToken: lease.fencingToken } });
  });

  it("lets a VIEWER key, as a tool would hold, verify a proof of another principal's lease", async () => {
    const viewer = await t.principalWithKey(org.adminKey, 'VIEWER', { name: 'license-gate' });
    const lease = await checkout();
    expect(await verify(lease.proof, viewer.key)).toMatchObject({ valid: true, lease: { id: lease.id } });
  });

  it('answers BAD_SIGNATURE to a proof whose payload was changed, which offline verification refuses too', async () => {
    const lease = await checkout();
    const forged = tampered(lease.proof, (claims) => {
      claims.exp = (claims.exp as number) + 86_400;
    });
    expect(await verify(forged)).toEqual({ valid: false, reason: 'BAD_SIGNATURE', lease: null });
    await expect(verifyOffline(forged)).rejects.toBeInstanceOf(errors.JWSSignatureVerificationFailed);
  });

  it('answers BAD_SIGNATURE to a proof signed by another key under a published kid', async () => {
    const lease = await checkout();
    const { kid } = decodeProtectedHeader(lease.proof);
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const forged = await new SignJWT({ ...decodeJwt(lease.proof) }).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid }).sign(privateKey);
    expect(await verify(forged)).toEqual({ valid: false, reason: 'BAD_SIGNATURE', lease: null });
  });

  it('answers BAD_SIGNATURE, not an error, to malformed proofs, unknown kids and unsigned tokens', async () => {
    const lease = await checkout();
    const unknownKid = `${Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: 'no-such-kid' })).toString('base64url')}.${lease.proof.split('.').slice(1).join('.')}`;
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${lease.proof.split('.')[1]}.`;
    const cases = ['', 'not a jwt', 'a.b.c', lease.id, unknownKid, unsigned, 'x'.repeat(4096)];
    for (const proof of cases) {
      expect({ proof: proof.slice(0, 40), answer: await verify(proof) }).toEqual({
        proof: proof.slice(0, 40),
        answer: { valid: false, reason: 'BAD_SIGNATURE', lease: null },
      });
    }
  });

  it('refuses a proof longer than 4096 characters with BAD_USER_INPUT on proof', async () => {
    const res = await t.gql(client.key, VERIFY, { proof: 'x'.repeat(4097) });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0].extensions.field).toBe('proof');
  });

  it('answers RELEASED once the lease is checked in', async () => {
    const lease = await checkout();
    await t.gql(client.key, 'mutation($id: ID!) { checkin(leaseId: $id) { id } }', { id: lease.id });
    expect(await verify(lease.proof)).toEqual({
      valid: false,
      reason: 'RELEASED',
      lease: { id: lease.id, state: 'RELEASED', fencingToken: lease.fencingToken },
    });
  });

  it('answers REVOKED once an admin revokes the lease', async () => {
    const lease = await checkout();
    await t.gql(org.adminKey, 'mutation($id: ID!) { revokeLease(leaseId: $id, reason: "harvest") { id } }', { id: lease.id });
    expect(await verify(lease.proof)).toMatchObject({ valid: false, reason: 'REVOKED', lease: { state: 'REVOKED' } });
  });

  it('answers EXPIRED once the lease has run out, and offline verification refuses the proof as expired', async () => {
    const lease = await checkout({ leaseSeconds: 5 });
    await sleep(5_500);
    expect(await verify(lease.proof)).toMatchObject({ valid: false, reason: 'EXPIRED', lease: { id: lease.id, state: 'EXPIRED' } });
    await expect(verifyOffline(lease.proof)).rejects.toBeInstanceOf(errors.JWTExpired);
  });

  it('answers STALE_FENCING_TOKEN to a proof older than the fencing token the lease holds now, and a fresh proof is valid', async () => {
    const lease = await checkout();
    // As after a rebuild that re-issued the lease under a newer token.
    await dataSource.query('UPDATE leases SET fencing_token = fencing_token + 10 WHERE id = $1', [lease.id]);
    const newer = String(BigInt(lease.fencingToken) + 10n);
    expect(await verify(lease.proof)).toEqual({ valid: false, reason: 'STALE_FENCING_TOKEN', lease: { id: lease.id, state: 'ACTIVE', fencingToken: newer } });
    const fresh = await t.gql<{ lease: { proof: string } }>(client.key, 'query($id: ID!) { lease(id: $id) { proof } }', { id: lease.id });
    expect(decodeJwt(fresh.data!.lease.proof).fence).toBe(newer);
    expect(await verify(fresh.data!.lease.proof)).toMatchObject({ valid: true });
  });

  it('gives a fresh proof with a later exp on heartbeat', async () => {
    const lease = await checkout({ leaseSeconds: 60 });
    await sleep(1_100);
    const beat = await t.gql<{ heartbeat: ProofLease }>(client.key, `mutation($id: ID!) { heartbeat(leaseId: $id) { ${LEASE} } }`, { id: lease.id });
    const renewed = beat.data!.heartbeat;
    expect(decodeJwt(renewed.proof).exp).toBe(Math.floor(Date.parse(renewed.expiresAt) / 1000));
    expect(decodeJwt(renewed.proof).exp).toBeGreaterThan(decodeJwt(lease.proof).exp!);
    expect(await verify(renewed.proof)).toMatchObject({ valid: true, lease: { id: lease.id } });
  });

  it("answers NOT_FOUND, with nothing of the lease, to another organization's valid proof", async () => {
    const other = await t.organization('proofs-other');
    const otherPool = await createPool(t, other.adminKey, { cap: 10, apps: [{ key: 'tool', cost: 1 }] });
    const res = await t.gql<{ checkout: ProofLease }>(other.adminKey, CHECKOUT, { input: { poolId: otherPool.poolId, app: otherPool.keyOf('tool') } });
    const foreign = res.data!.checkout;
    expect(await verify(foreign.proof, other.adminKey)).toMatchObject({ valid: true });
    const answer = await t.gql(
      org.adminKey,
      'query($proof: String!) { verifyLease(proof: $proof) { valid reason lease { id state fencingToken proof pool { id name } principal { id } } } }',
      { proof: foreign.proof },
    );
    expect(answer.data).toEqual({ verifyLease: { valid: false, reason: 'NOT_FOUND', lease: null } });
    expect(await verify(foreign.proof, client.key)).toEqual({ valid: false, reason: 'NOT_FOUND', lease: null });
  });

  describe('who gets a proof: the holder, the SERVICE that checked out for it, or an ADMIN key, and only while the lease is ACTIVE', () => {
    const PROOF_OF = 'query($id: ID!) { lease(id: $id) { id state proof } }';
    let viewer: { key: string };
    let bystander: { key: string };
    let service: { key: string };

    beforeAll(async () => {
      viewer = await t.principalWithKey(org.adminKey, 'VIEWER', { name: 'proof-viewer' });
      bystander = await t.principalWithKey(org.adminKey, 'CLIENT', { name: 'proof-bystander', kind: 'AGENT' });
      service = await t.principalWithKey(org.adminKey, 'CLIENT', { name: 'proof-broker', kind: 'SERVICE' });
    });

    async function proofOf(key: string, id: string): Promise<{ id: string; state: string; proof: string | null } | null> {
      const res = await t.gql<{ lease: { id: string; state: string; proof: string | null } | null }>(key, PROOF_OF, { id });
      if (!res.data) throw new Error(JSON.stringify(res.errors));
      return res.data.lease;
    }

    async function leaseOf(key: string, proof: string): Promise<{ id: string; proof: string | null } | null> {
      const res = await t.gql<{ verifyLease: { lease: { id: string; proof: string | null } | null } }>(
        key,
        'query($proof: String!) { verifyLease(proof: $proof) { lease { id proof } } }',
        { proof },
      );
      if (!res.data) throw new Error(JSON.stringify(res.errors));
      return res.data.verifyLease.lease;
    }

    it('gives a VIEWER the lease but no proof, by id, in the list and through verifyLease', async () => {
      const lease = await checkout();
      expect(await proofOf(viewer.key, lease.id)).toEqual({ id: lease.id, state: 'ACTIVE', proof: null });
      const listed = await t.gql<{ leases: { id: string; proof: string | null }[] }>(
        viewer.key,
        'query($p: ID!) { leases(poolId: $p, state: ACTIVE, first: 100) { id proof } }',
        { p: pool.poolId },
      );
      expect(listed.data?.leases.find((l) => l.id === lease.id)).toEqual({ id: lease.id, proof: null });
      expect(await leaseOf(viewer.key, lease.proof)).toEqual({ id: lease.id, proof: null });
    });

    it('gives another CLIENT of the organization no lease by id and no proof through verifyLease', async () => {
      const lease = await checkout();
      expect(await proofOf(bystander.key, lease.id)).toBeNull();
      expect(await leaseOf(bystander.key, lease.proof)).toEqual({ id: lease.id, proof: null });
    });

    it('gives the holder, the SERVICE that checked out on its behalf and an ADMIN key a proof of an ACTIVE lease, each valid for verifyLease', async () => {
      const res = await t.gql<{ checkout: ProofLease }>(service.key, CHECKOUT, {
        input: { poolId: pool.poolId, app: pool.keyOf('tool'), onBehalfOf: client.principalId },
      });
      const lease = res.data!.checkout;
      expect(decodeJwt(lease.proof)).toMatchObject({ sub: lease.id, prn: client.principalId });
      for (const key of [client.key, service.key, org.adminKey]) {
        const seen = await proofOf(key, lease.id);
        expect(seen).toEqual({ id: lease.id, state: 'ACTIVE', proof: expect.any(String) });
        expect(await verify(seen!.proof!, key)).toMatchObject({ valid: true, lease: { id: lease.id } });
      }
    });

    it('gives the SERVICE a proof of every lease it checked out for others, in one page of its leases', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await t.gql<{ checkout: ProofLease }>(service.key, CHECKOUT, {
          input: { poolId: pool.poolId, app: pool.keyOf('tool'), onBehalfOf: client.principalId },
        });
        ids.push(res.data!.checkout.id);
      }
      const listed = await t.gql<{ leases: { id: string; proof: string | null }[] }>(
        service.key,
        'query($p: ID!) { leases(poolId: $p, state: ACTIVE, first: 100) { id proof } }',
        { p: pool.poolId },
      );
      const mine = listed.data!.leases.filter((l) => ids.includes(l.id));
      expect(mine).toHaveLength(3);
      for (const l of mine) expect(decodeJwt(l.proof!).sub).toBe(l.id);
    });

    it('lets every role verify a proof: ADMIN, the holder, another CLIENT and a VIEWER', async () => {
      const lease = await checkout();
      for (const key of [org.adminKey, client.key, bystander.key, viewer.key]) {
        expect(await verify(lease.proof, key)).toMatchObject({ valid: true, reason: null, lease: { id: lease.id } });
      }
    });

    it('gives no proof of a checked-in lease, to its holder or to an ADMIN key', async () => {
      const lease = await checkout();
      const checkin = await t.gql<{ checkin: { state: string; proof: string | null } }>(
        client.key,
        'mutation($id: ID!) { checkin(leaseId: $id) { state proof } }',
        { id: lease.id },
      );
      expect(checkin.data?.checkin).toEqual({ state: 'RELEASED', proof: null });
      expect(await proofOf(client.key, lease.id)).toEqual({ id: lease.id, state: 'RELEASED', proof: null });
      expect(await proofOf(org.adminKey, lease.id)).toEqual({ id: lease.id, state: 'RELEASED', proof: null });
    });

    it('gives no proof of a revoked lease, to the ADMIN that revoked it or to its holder', async () => {
      const lease = await checkout();
      const revoked = await t.gql<{ revokeLease: { state: string; proof: string | null } }>(
        org.adminKey,
        'mutation($id: ID!) { revokeLease(leaseId: $id) { state proof } }',
        { id: lease.id },
      );
      expect(revoked.data?.revokeLease).toEqual({ state: 'REVOKED', proof: null });
      expect(await proofOf(client.key, lease.id)).toEqual({ id: lease.id, state: 'REVOKED', proof: null });
    });

    it('gives no proof of a lease past its expiresAt, before the sweep has collected it, to its holder or to an ADMIN key', async () => {
      const lease = await checkout();
      // As a lease whose heartbeats stopped: its expiry has passed, its row still says ACTIVE.
      await dataSource.query(`UPDATE leases SET expires_at = now() - interval '1 second' WHERE id = $1`, [lease.id]);
      expect(await proofOf(client.key, lease.id)).toEqual({ id: lease.id, state: 'EXPIRED', proof: null });
      expect(await proofOf(org.adminKey, lease.id)).toEqual({ id: lease.id, state: 'EXPIRED', proof: null });
    });
  });

  it('publishes the public keys without authentication, cacheable for 5 minutes, with no private parts', async () => {
    await checkout();
    const res = await request(t.server).get('/.well-known/jwks.json').expect(200);
    expect(res.headers['cache-control']).toBe('public, max-age=300');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const keys = (res.body as JSONWebKeySet).keys;
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const key of keys) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x']);
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(key.kid).toBe(await calculateJwkThumbprint({ kty: key.kty, crv: key.crv, x: key.x }));
    }
    expect(res.text).not.toMatch(/"d"\s*:/);
  });

  it('keeps proofs signed before a rotation verifiable, and signs new ones with the new kid, both published', async () => {
    const before = await checkout();
    const oldKid = decodeProtectedHeader(before.proof).kid!;
    const newKid = await t.app.get(SigningKeysService).rotate();
    expect(newKid).not.toBe(oldKid);
    const after = await checkout();
    expect(decodeProtectedHeader(after.proof).kid).toBe(newKid);
    const kids = (await fetchJwks()).keys.map((k) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));
    expect((await verifyOffline(before.proof)).payload.sub).toBe(before.id);
    expect((await verifyOffline(after.proof)).payload.sub).toBe(after.id);
    expect(await verify(before.proof)).toMatchObject({ valid: true, lease: { id: before.id } });
    expect(await verify(after.proof)).toMatchObject({ valid: true, lease: { id: after.id } });
    const rows: { retired: boolean }[] = await dataSource.query('SELECT retired_at IS NOT NULL AS retired FROM signing_keys WHERE kid = $1', [oldKid]);
    expect(rows).toEqual([{ retired: true }]);
  });

  it('creates exactly one key when several replicas find none at the same time', async () => {
    await dataSource.query('UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL');
    const replicas = Array.from({ length: 6 }, () => new SigningKeysService(dataSource.getRepository(SigningKeyEntity), { leaseSigningKey: undefined }));
    const kids = await Promise.all(replicas.map(async (replica) => (await replica.signingKey()).kid));
    expect(new Set(kids).size).toBe(1);
    const active: { kid: string }[] = await dataSource.query('SELECT kid FROM signing_keys WHERE retired_at IS NULL');
    expect(active).toEqual([{ kid: kids[0] }]);
  });

  it('signs with LEASE_SIGNING_KEY when it is set, storing only its public half, and publishes it', async () => {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const pem = await exportPKCS8(privateKey);
    const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
    const replica = new SigningKeysService(dataSource.getRepository(SigningKeyEntity), { leaseSigningKey: pem });
    expect((await replica.signingKey()).kid).toBe(kid);
    expect((await replica.publishedKeys()).map((k) => k.kid)).toContain(kid);
    const rows: { private_key_pem: string | null; retired_at: Date | null }[] = await dataSource.query(
      'SELECT private_key_pem, retired_at FROM signing_keys WHERE kid = $1',
      [kid],
    );
    expect(rows).toEqual([{ private_key_pem: null, retired_at: null }]);
    await expect(replica.rotate()).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
