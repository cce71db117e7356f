import { DataSource } from 'typeorm';
import { codeOf, TestApp } from './support/app';
import { ApiProcess, startApi } from './support/processes';

describe('authentication and roles', () => {
  let t: TestApp;
  let adminKey: string;

  beforeAll(async () => {
    t = await TestApp.start();
    ({ adminKey } = await t.organization('auth'));
  });

  afterAll(async () => {
    await t.close();
  });

  it('answers me for the admin key', async () => {
    const res = await t.gql<{ me: { name: string; kind: string; organization: { currency: string } } }>(
      adminKey,
      '{ me { name kind organization { currency } } }',
    );
    expect(res.data?.me).toEqual({ name: 'admin', kind: 'USER', organization: { currency: 'USD' } });
  });

  it('refuses a request without a key with UNAUTHENTICATED', async () => {
    const res = await t.gql(null, '{ me { name } }');
    expect(res.status).toBe(401);
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
  });

  it('refuses an unknown key with UNAUTHENTICATED', async () => {
    const res = await t.gql(`tp_${'0'.repeat(64)}`, '{ me { name } }');
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
  });

  it('refuses a malformed Authorization header with UNAUTHENTICATED', async () => {
    const res = await t.gql('not a key at all', '{ me { name } }');
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
  });

  it('refuses an expired key with UNAUTHENTICATED', async () => {
    const { key, keyId } = await t.principalWithKey(adminKey, 'CLIENT');
    expect(codeOf(await t.gql(key, '{ me { id } }'))).toBeUndefined();
    await t.app.get(DataSource).query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [keyId]);
    await new Promise((r) => setTimeout(r, 1100)); // past the key cache
    expect(codeOf(await t.gql(key, '{ me { id } }'))).toBe('UNAUTHENTICATED');
  });

  it('refuses an expiresAt in the past with BAD_USER_INPUT on expiresAt', async () => {
    const { principalId } = await t.principalWithKey(adminKey, 'CLIENT');
    const res = await t.gql(adminKey, 'mutation($p: ID!) { createApiKey(principalId: $p, role: CLIENT, expiresAt: "2001-01-01T00:00:00Z") { id } }', {
      p: principalId,
    });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0].extensions.field).toBe('expiresAt');
  });

  it('shows a key in apiKeys without its secret and with its principal', async () => {
    const { keyId, principalId } = await t.principalWithKey(adminKey, 'VIEWER');
    const res = await t.gql<{ apiKeys: { id: string; role: string; principal: { id: string }; revokedAt: string | null }[] }>(
      adminKey,
      '{ apiKeys { id role principal { id } revokedAt } }',
    );
    expect(res.data?.apiKeys).toContainEqual({ id: keyId, role: 'VIEWER', principal: { id: principalId }, revokedAt: null });
    expect(JSON.stringify(res)).not.toMatch(/tp_[0-9a-f]{64}/);
  });

  it('stores only a hash of the secret', async () => {
    const { key, keyId } = await t.principalWithKey(adminKey, 'CLIENT');
    const rows: { secret_hash: string }[] = await t.app.get(DataSource).query('SELECT secret_hash FROM api_keys WHERE id = $1', [keyId]);
    expect(rows[0].secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0].secret_hash).not.toContain(key.slice(3));
  });

  it('refuses an ADMIN mutation for a VIEWER key with FORBIDDEN', async () => {
    const { key } = await t.principalWithKey(adminKey, 'VIEWER');
    const res = await t.gql(key, 'mutation { createPrincipal(input: { name: "x", kind: USER, orgUnitKind: CHANGE }) { id } }');
    expect(codeOf(res)).toBe('FORBIDDEN');
  });

  it('refuses an ADMIN query for a CLIENT key with FORBIDDEN', async () => {
    const { key } = await t.principalWithKey(adminKey, 'CLIENT');
    expect(codeOf(await t.gql(key, '{ principals { id } }'))).toBe('FORBIDDEN');
    expect(codeOf(await t.gql(key, '{ apiKeys { id } }'))).toBe('FORBIDDEN');
  });

  it('lets every role read me', async () => {
    for (const role of ['CLIENT', 'VIEWER'] as const) {
      const { key, principalId } = await t.principalWithKey(adminKey, role);
      const res = await t.gql<{ me: { id: string } }>(key, '{ me { id } }');
      expect(res.data?.me.id).toBe(principalId);
    }
  });

  it('records principal and key creation in the audit log', async () => {
    const from = new Date(Date.now() - 1000).toISOString();
    const { principalId, keyId } = await t.principalWithKey(adminKey, 'CLIENT');
    const res = await t.gql<{ auditLog: { action: string; objectId: string; actor: { name: string } }[] }>(
      adminKey,
      'query($from: DateTime!, $to: DateTime!) { auditLog(from: $from, to: $to, first: 100) { action objectId actor { name } } }',
      { from, to: new Date(Date.now() + 1000).toISOString() },
    );
    expect(res.data?.auditLog).toEqual(
      expect.arrayContaining([
        { action: 'createPrincipal', objectId: principalId, actor: { name: 'admin' } },
        { action: 'createApiKey', objectId: keyId, actor: { name: 'admin' } },
      ]),
    );
  });

  describe('revocation across replicas', () => {
    let other: ApiProcess;

    beforeAll(async () => {
      other = await startApi();
    });

    afterAll(async () => {
      await other.stop();
    });

    it('refuses a revoked key on another replica within 2 seconds', async () => {
      const { key, keyId } = await t.principalWithKey(adminKey, 'CLIENT');
      expect((await other.gql(key, '{ me { id } }')).body.data?.me).toBeTruthy(); // now cached there
      const revoked = await t.gql<{ revokeApiKey: boolean }>(adminKey, 'mutation($id: ID!) { revokeApiKey(id: $id) }', { id: keyId });
      expect(revoked.data?.revokeApiKey).toBe(true);
      const revokedAt = Date.now();
      let refusedAfter = Infinity;
      while (Date.now() - revokedAt < 3000) {
        const res = await other.gql(key, '{ me { id } }');
        if (res.body.errors?.[0]?.extensions.code === 'UNAUTHENTICATED') {
          refusedAfter = Date.now() - revokedAt;
          break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(refusedAfter).toBeLessThanOrEqual(2000);
      expect(codeOf(await t.gql(key, '{ me { id } }'))).toBe('UNAUTHENTICATED');
    });
  });
});
