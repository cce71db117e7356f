import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { codeOf, TestApp } from './support/app';
import { runCli, startApi } from './support/processes';

describe('operator CLI and tenant isolation of principals and keys', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await TestApp.start();
  });

  afterAll(async () => {
    await t.close();
  });

  async function orgFromCli(): Promise<{ organizationId: string; adminKey: string }> {
    const run = await runCli(['org', 'create', `cli-${randomUUID()}`]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    return JSON.parse(lines[0]);
  }

  it('prints one JSON line with the organization id and a tp_ admin key', async () => {
    const created = await orgFromCli();
    expect(created.organizationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.adminKey).toMatch(/^tp_[0-9a-f]{64}$/);
    const me = await t.gql<{ me: { organization: { id: string } } }>(created.adminKey, '{ me { organization { id } } }');
    expect(me.data?.me.organization.id).toBe(created.organizationId);
  });

  it('refuses a second organization of the same name with exit code 1', async () => {
    const name = `dup-${randomUUID()}`;
    expect((await runCli(['org', 'create', name])).code).toBe(0);
    const second = await runCli(['org', 'create', name]);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('exists already');
  });

  it('keeps two organizations from seeing or changing each other’s principals and keys', async () => {
    const a = await orgFromCli();
    const b = await orgFromCli();
    const bPrincipal = await t.principalWithKey(b.adminKey, 'CLIENT', { name: 'b-secret-name' });

    const principals = await t.gql<{ principals: { id: string; name: string }[] }>(a.adminKey, '{ principals { id name } }');
    expect(principals.data?.principals.map((p) => p.id)).not.toContain(bPrincipal.principalId);
    expect(JSON.stringify(principals.data)).not.toContain('b-secret-name');

    const keys = await t.gql<{ apiKeys: { id: string }[] }>(a.adminKey, '{ apiKeys { id } }');
    expect(keys.data?.apiKeys.map((k) => k.id)).not.toContain(bPrincipal.keyId);

    const revoke = await t.gql(a.adminKey, 'mutation($id: ID!) { revokeApiKey(id: $id) }', { id: bPrincipal.keyId });
    expect(codeOf(revoke)).toBe('NOT_FOUND');
    const keyForB = await t.gql(a.adminKey, 'mutation($p: ID!) { createApiKey(principalId: $p, role: ADMIN) { id } }', { p: bPrincipal.principalId });
    expect(codeOf(keyForB)).toBe('NOT_FOUND');

    const stillWorks = await t.gql<{ me: { id: string } }>(bPrincipal.key, '{ me { id } }');
    expect(stillWorks.data?.me.id).toBe(bPrincipal.principalId);
  });

  it('prints usage and exits 2 for an unknown command', async () => {
    const run = await runCli(['frobnicate']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Usage');
  });

  it('creates organization "default" from BOOTSTRAP_ADMIN_KEY on an empty database', async () => {
    const database = `tokenpool_boot_${Date.now().toString(36)}`;
    const adminUrl = process.env.TP_TEST_ADMIN_URL!;
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    const key = `tp_${randomUUID().replace(/-/g, '')}`;
    const api = await startApi({ DATABASE_URL: url.toString(), DATABASE_CREATE: 'true', MIGRATIONS_RUN: 'true', BOOTSTRAP_ADMIN_KEY: key });
    try {
      const res = await api.gql(key, '{ me { name organization { name } } }');
      expect(res.body.data).toEqual({ me: { name: 'admin', organization: { name: 'default' } } });
    } finally {
      await api.stop();
      const admin = new Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await admin.end();
    }
  });
});
