import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type { BorrowDocument, VerifyDocument } from '../src/commands/borrow';
import { startWorld, type CliWorld } from './support/cli';

/**
 * `tokenpool borrow`, `return`, `verify-proof` and `revocations` against a real API process
 * with the built CLI as a child process: the files borrow writes verify with plain jose and
 * with verify-proof, return frees the credits, and the exit codes of refusals and bad proofs.
 */

const POOL_FIGURES = 'query { pools { id inUse } }';
const LEASE = 'query($id: ID!) { lease(id: $id) { id state borrowedUntil host } }';

describe('tokenpool borrow, return, verify-proof', () => {
  let world: CliWorld;
  let dir: string;
  let pool: { id: string; name: string };
  let appKey: string;

  const cli = (args: string[], env: Record<string, string> = {}) => world.run(args, env);
  const inUse = async () => (await world.gql<{ pools: { id: string; inUse: number }[] }>(POOL_FIGURES)).pools.find((p) => p.id === pool.id)!.inUse;

  beforeAll(async () => {
    world = await startWorld('cli-borrow');
    dir = mkdtempSync(join(tmpdir(), 'tokenpool-borrow-test-'));
    const created = await cli(['pools', 'create', `cli-borrow-${randomUUID().slice(0, 8)}`, '--cap', '10', '--max-borrow-hours', '72', '--json']);
    if (created.code !== 0) throw new Error(created.stderr);
    pool = JSON.parse(created.stdout) as { id: string; name: string };
    appKey = `solver-${randomUUID().slice(0, 8)}`;
    const app = await cli(['apps', 'create', '--pool', pool.name, '--key', appKey, '--name', 'Solver', '--cost', '3']);
    if (app.code !== 0) throw new Error(app.stderr);
  });

  afterEach(() => world.killAll());

  afterAll(async () => {
    await world?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('borrows by pool name: writes the proof (mode 600) and the keys beside it, which verify with jose; return frees it', async () => {
    const out = join(dir, 'proof.jwt');
    const before = Date.now();
    const run = await cli(['borrow', '--pool', pool.name, '--app', appKey, '--hours', '72', '--host', 'laptop-cli', '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const leaseId = /lease ([0-9a-f-]{36})/.exec(run.stdout)?.[1];
    expect(leaseId).toBeDefined();
    expect(run.stdout).toContain(`Proof:  ${out} (mode 600)`);
    expect(run.stdout).toContain(`Keys:   ${out}.jwks.json`);
    expect(run.stdout).toContain(`tokenpool return ${leaseId}`);

    const proof = readFileSync(out, 'utf8');
    expect(proof).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/); // just the JWT: no newline, nothing else
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const keys = JSON.parse(readFileSync(`${out}.jwks.json`, 'utf8')) as JSONWebKeySet;
    expect(keys.keys.length).toBeGreaterThan(0);

    // Any JWT library can check it with the saved keys alone.
    const { payload, protectedHeader } = await jwtVerify(proof, createLocalJWKSet(keys), { issuer: 'tokenpool', typ: 'JWT' });
    expect(protectedHeader.alg).toBe('EdDSA');
    expect(payload.sub).toBe(leaseId);
    expect(payload.exp! * 1000).toBeGreaterThanOrEqual(before + 72 * 3600_000 - 2000);
    expect(payload.exp! * 1000).toBeLessThanOrEqual(Date.now() + 72 * 3600_000 + 1000);
    const { lease } = await world.gql<{ lease: { state: string; borrowedUntil: string; host: string } }>(LEASE, { id: leaseId });
    expect(lease).toMatchObject({ state: 'ACTIVE', host: 'laptop-cli' });
    expect(Math.floor(new Date(lease.borrowedUntil).getTime() / 1000)).toBe(payload.exp);
    expect(await inUse()).toBe(3);

    const verified = await cli(['verify-proof', out]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`Valid: lease ${leaseId} (app `);
    // Offline: no server, no key.
    const offline = await cli(['verify-proof', out, '--json'], { TOKENPOOL_URL: 'http://127.0.0.1:9', TOKENPOOL_API_KEY: '' });
    expect(offline.code).toBe(0);
    const doc = JSON.parse(offline.stdout) as VerifyDocument;
    expect(doc).toMatchObject({ valid: true, leaseId, pool: pool.id, expiresAt: new Date(payload.exp! * 1000).toISOString() });

    // As of a second before the end of the borrow it is still valid; from its end on, EXPIRED (75).
    expect((await cli(['verify-proof', out, '--at', new Date((payload.exp! - 1) * 1000).toISOString()])).code).toBe(0);
    const expired = await cli(['verify-proof', out, '--at', new Date((payload.exp! + 1) * 1000).toISOString()]);
    expect(expired.code).toBe(75);
    expect(expired.stderr).toContain('EXPIRED');

    const returned = await cli(['return', leaseId!]);
    expect(returned.code).toBe(0);
    expect(returned.stdout).toMatch(new RegExp(`^Lease ${leaseId}: RELEASED at `));
    expect(await inUse()).toBe(0);
    const again = await cli(['return', leaseId!, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: leaseId, state: 'RELEASED' });
  });

  it('--json, --keys-out and --work-unit; verify-proof --keys reads keys from elsewhere', async () => {
    const out = join(dir, 'json-proof.jwt');
    const keysOut = join(dir, 'keys', 'server.jwks.json');
    const missingDir = await cli(['borrow', '--pool', pool.id, '--app', appKey, '--hours', '1', '--out', out, '--keys-out', keysOut]);
    // The keys' folder does not exist: the proof cannot be kept with its keys, so the borrow is given back.
    expect(missingDir.code).toBe(1);
    expect(missingDir.stderr).toMatch(/could not write the proof .*was returned/);
    expect(await inUse()).toBe(0);

    const keysDir = join(dir, 'keys');
    expect(existsSync(out)).toBe(false);
    mkdirSync(keysDir);
    const ref = `ticket-${randomUUID().slice(0, 8)}`;
    const run = await cli(['borrow', '--pool', pool.id, '--app', appKey, '--hours', '5', '--out', out, '--keys-out', keysOut, '--work-unit', ref, '--json']);
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout) as BorrowDocument;
    expect(doc).toMatchObject({ pool: { id: pool.id, name: pool.name }, app: appKey, credits: 3, proofFile: out, keysFile: keysOut });
    expect(new Date(doc.borrowedUntil).getTime() - new Date(doc.acquiredAt).getTime()).toBeCloseTo(5 * 3600_000, -4);
    expect(existsSync(`${out}.jwks.json`)).toBe(false);
    const { lease } = await world.gql<{ lease: { workUnit: { externalRef: string } | null } }>(
      'query($id: ID!) { lease(id: $id) { workUnit { externalRef } } }',
      {
        id: doc.leaseId,
      },
    );
    expect(lease.workUnit).toEqual({ externalRef: ref });

    expect((await cli(['verify-proof', out])).code).toBe(1); // no keys beside it
    const verified = await cli(['verify-proof', out, '--keys', keysOut]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(doc.leaseId);
    expect((await cli(['return', doc.leaseId])).code).toBe(0);
  });

  it('exits 69 with BORROW_NOT_ALLOWED beyond maxBorrowHours and on a pool that does not allow borrowing, borrowing nothing', async () => {
    const out = join(dir, 'refused.jwt');
    const tooLong = await cli(['borrow', '--pool', pool.name, '--app', appKey, '--hours', '73', '--out', out]);
    expect(tooLong.code).toBe(69);
    expect(tooLong.stderr).toContain('BORROW_NOT_ALLOWED');
    expect(tooLong.stderr).toContain('maxBorrowHours 72');
    expect(existsSync(out)).toBe(false);

    const offName = `cli-noborrow-${randomUUID().slice(0, 8)}`;
    expect((await cli(['pools', 'create', offName, '--cap', '5'])).code).toBe(0);
    const offApp = `solver-${randomUUID().slice(0, 8)}`;
    expect((await cli(['apps', 'create', '--pool', offName, '--key', offApp, '--name', 'Solver', '--cost', '1'])).code).toBe(0);
    const off = await cli(['borrow', '--pool', offName, '--app', offApp, '--hours', '1', '--out', out]);
    expect(off.code).toBe(69);
    expect(off.stderr).toContain('BORROW_NOT_ALLOWED');
    expect(off.stderr).toContain('maxBorrowHours 0');
    expect(existsSync(out)).toBe(false);
    expect(await inUse()).toBe(0);

    const usage = await cli(['borrow', '--pool', pool.name, '--app', appKey, '--hours', '0', '--out', out]);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain('--hours must be a whole number of at least 1');
    const badKey = await cli(['borrow', '--pool', pool.id, '--app', appKey, '--hours', '1', '--out', out], { TOKENPOOL_API_KEY: 'tp_notakey' });
    expect(badKey.code).toBe(77);
  });

  it('verify-proof refuses a revoked borrow (75, REVOKED) with a saved revocation list, a tampered proof (77) and a list passed as a proof (77)', async () => {
    const out = join(dir, 'revoked.jwt');
    const run = await cli(['borrow', '--pool', pool.name, '--app', appKey, '--hours', '2', '--out', out, '--json']);
    expect(run.code).toBe(0);
    const { leaseId } = JSON.parse(run.stdout) as BorrowDocument;

    const listFile = join(dir, 'revocations.jws');
    const clean = await cli(['revocations', '--out', listFile]);
    expect(clean.code).toBe(0);
    expect(clean.stdout).not.toContain(leaseId);
    expect((await cli(['verify-proof', out, '--revocations', listFile])).code).toBe(0);

    expect((await cli(['revoke', leaseId, '--reason', 'laptop stolen'])).code).toBe(0);
    const listed = await cli(['revocations', '--out', listFile]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(leaseId);
    expect(decodeProtectedHeader(readFileSync(listFile, 'utf8'))).toMatchObject({ typ: 'tokenpool-revocations+jwt' });

    // Without the list the proof still verifies offline (that is what offline means); with it, REVOKED.
    expect((await cli(['verify-proof', out])).code).toBe(0);
    const refused = await cli(['verify-proof', out, '--revocations', listFile]);
    expect(refused.code).toBe(75);
    expect(refused.stderr).toContain('REVOKED');
    const refusedJson = await cli(['verify-proof', out, '--revocations', listFile, '--json']);
    expect(refusedJson.code).toBe(75);
    expect(JSON.parse(refusedJson.stdout)).toMatchObject({ valid: false, code: 'REVOKED' });

    // A revocation list is not a proof, even though it is signed with the same keys.
    const asProof = join(dir, 'list-as-proof.jwt');
    writeFileSync(asProof, readFileSync(listFile));
    const wrongType = await cli(['verify-proof', asProof, '--keys', `${out}.jwks.json`]);
    expect(wrongType.code).toBe(77);
    expect(wrongType.stderr).toContain('BAD_SIGNATURE');

    const tampered = join(dir, 'tampered.jwt');
    const [h, p, s] = readFileSync(out, 'utf8').split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { exp: number };
    writeFileSync(tampered, `${h}.${Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 86_400 })).toString('base64url')}.${s}`);
    const bad = await cli(['verify-proof', tampered, '--keys', `${out}.jwks.json`]);
    expect(bad.code).toBe(77);
    expect(bad.stderr).toContain('BAD_SIGNATURE');
  });
});
