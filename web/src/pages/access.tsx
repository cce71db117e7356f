import { useState } from 'preact/hooks';
import { gql, type ApiError } from '../api';
import { ErrorBox, Status, Table } from '../components';
import { fmtTime } from '../format';
import { asApiError, useQuery } from '../hooks';

interface Principal {
  id: string;
  name: string;
  kind: string;
  team: string | null;
  orgUnitKind: string;
}
interface Key {
  id: string;
  role: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  principal: { id: string; name: string };
}

const ACCESS = '{ principals { id name kind team orgUnitKind } apiKeys { id role createdAt expiresAt lastUsedAt revokedAt principal { id name } } }';

function PrincipalForm({ onDone }: { onDone: () => void }) {
  const [f, setF] = useState({ name: '', kind: 'USER', team: '', orgUnitKind: 'GOING_CONCERN' });
  const [error, setError] = useState<ApiError>();
  async function save(e: Event) {
    e.preventDefault();
    try {
      await gql('mutation($input: CreatePrincipalInput!) { createPrincipal(input: $input) { id } }', {
        input: { name: f.name.trim(), kind: f.kind, team: f.team.trim() || null, orgUnitKind: f.orgUnitKind },
      });
      setF({ ...f, name: '', team: '' });
      setError(undefined);
      onDone();
    } catch (err) {
      setError(asApiError(err));
    }
  }
  return (
    <form class="editor" onSubmit={save} aria-label="Create a principal">
      <label>
        Name
        <input required value={f.name} onInput={(e) => setF({ ...f, name: (e.target as HTMLInputElement).value })} />
      </label>
      <label>
        Kind
        <select aria-label="Kind" value={f.kind} onChange={(e) => setF({ ...f, kind: (e.target as HTMLSelectElement).value })}>
          <option>USER</option>
          <option>AGENT</option>
          <option>SERVICE</option>
        </select>
      </label>
      <label>
        Team
        <input value={f.team} onInput={(e) => setF({ ...f, team: (e.target as HTMLInputElement).value })} />
      </label>
      <label>
        Works for
        <select aria-label="Works for" value={f.orgUnitKind} onChange={(e) => setF({ ...f, orgUnitKind: (e.target as HTMLSelectElement).value })}>
          <option value="GOING_CONCERN">the going concern</option>
          <option value="CHANGE">the change organisation</option>
        </select>
      </label>
      <button type="submit">Create principal</button>
      {error && <ErrorBox error={error} />}
    </form>
  );
}

function KeyForm({ principals, onDone }: { principals: Principal[]; onDone: () => void }) {
  const [f, setF] = useState({ principalId: principals[0]?.id ?? '', role: 'CLIENT', expiresAt: '' });
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<ApiError>();
  async function save(e: Event) {
    e.preventDefault();
    try {
      const r = await gql<{ createApiKey: { secret: string } }>(
        'mutation($p: ID!, $role: Role!, $exp: DateTime) { createApiKey(principalId: $p, role: $role, expiresAt: $exp) { id secret } }',
        {
          p: f.principalId,
          role: f.role,
          exp: f.expiresAt ? new Date(`${f.expiresAt}T00:00:00Z`).toISOString() : null,
        },
      );
      setSecret(r.createApiKey.secret);
      setError(undefined);
      onDone();
    } catch (err) {
      setError(asApiError(err));
    }
  }
  return (
    <form class="editor" onSubmit={save} aria-label="Create an API key">
      <label>
        Principal
        <select aria-label="Principal" value={f.principalId} onChange={(e) => setF({ ...f, principalId: (e.target as HTMLSelectElement).value })}>
          {principals.map((p) => (
            <option value={p.id}>{p.name}</option>
          ))}
        </select>
      </label>
      <label>
        Role
        <select aria-label="Role" value={f.role} onChange={(e) => setF({ ...f, role: (e.target as HTMLSelectElement).value })}>
          <option>CLIENT</option>
          <option>VIEWER</option>
          <option>ADMIN</option>
        </select>
      </label>
      <label>
        Expires (UTC date, optional)
        <input type="date" value={f.expiresAt} onInput={(e) => setF({ ...f, expiresAt: (e.target as HTMLInputElement).value })} />
      </label>
      <button type="submit">Create key</button>
      {secret && (
        <p class="secret" role="status">
          The new key, shown once: copy it now. <output class="mono">{secret}</output>
        </p>
      )}
      {error && <ErrorBox error={error} />}
    </form>
  );
}

export function AccessPage() {
  const q = useQuery(() => gql<{ principals: Principal[]; apiKeys: Key[] }>(ACCESS), []);
  const [error, setError] = useState<ApiError>();
  async function revoke(k: Key) {
    if (!confirm(`Revoke the ${k.role} key of ${k.principal.name}? Requests with it are refused within 2 seconds.`)) return;
    try {
      await gql('mutation($id: ID!) { revokeApiKey(id: $id) }', { id: k.id });
      q.reload();
    } catch (err) {
      setError(asApiError(err));
    }
  }
  return (
    <section aria-labelledby="access-h">
      <h1 id="access-h">Access</h1>
      <Status q={q}>
        {(d) => (
          <>
            <h2>Principals</h2>
            <Table
              rows={d.principals}
              caption="Principals"
              rowKey={(p) => p.id}
              initialSort="name"
              filterLabel="Filter principals"
              columns={[
                { key: 'name', label: 'Name', render: (p) => p.name, sort: (p) => p.name.toLowerCase(), filter: (p) => `${p.name} ${p.team ?? ''} ${p.kind}` },
                { key: 'kind', label: 'Kind', render: (p) => p.kind, sort: (p) => p.kind },
                { key: 'team', label: 'Team', render: (p) => p.team ?? '—', sort: (p) => p.team ?? '' },
                {
                  key: 'org',
                  label: 'Works for',
                  render: (p) => (p.orgUnitKind === 'CHANGE' ? 'change organisation' : 'going concern'),
                  sort: (p) => p.orgUnitKind,
                },
              ]}
            />
            <PrincipalForm onDone={q.reload} />
            <h2>API keys</h2>
            <Table
              rows={d.apiKeys}
              caption="API keys"
              rowKey={(k) => k.id}
              initialSort="principal"
              filterLabel="Filter keys by principal or role"
              columns={[
                {
                  key: 'principal',
                  label: 'Principal',
                  render: (k) => k.principal.name,
                  sort: (k) => k.principal.name.toLowerCase(),
                  filter: (k) => `${k.principal.name} ${k.role}`,
                },
                { key: 'role', label: 'Role', render: (k) => k.role, sort: (k) => k.role },
                { key: 'created', label: 'Created', render: (k) => fmtTime(k.createdAt), sort: (k) => k.createdAt },
                { key: 'used', label: 'Last used', render: (k) => fmtTime(k.lastUsedAt), sort: (k) => k.lastUsedAt ?? '' },
                { key: 'expires', label: 'Expires', render: (k) => fmtTime(k.expiresAt), sort: (k) => k.expiresAt ?? '' },
                {
                  key: 'state',
                  label: 'State',
                  render: (k) =>
                    k.revokedAt ? (
                      `revoked ${fmtTime(k.revokedAt)}`
                    ) : (
                      <button
                        type="button"
                        class="danger"
                        onClick={() => revoke(k)}
                        aria-label={`Revoke the ${k.role} key of ${k.principal.name} created ${fmtTime(k.createdAt)}`}
                      >
                        Revoke
                      </button>
                    ),
                  sort: (k) => k.revokedAt ?? '',
                },
              ]}
            />
            {error && <ErrorBox error={error} />}
            <KeyForm principals={d.principals} onDone={q.reload} />
          </>
        )}
      </Status>
    </section>
  );
}
