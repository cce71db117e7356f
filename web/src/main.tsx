import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, forgetKey, SIGNED_OUT, storedKey, storeKey } from './api';
import { ErrorBox } from './components';
import { setCurrency } from './format';
import { asApiError, useRoute } from './hooks';
import { onLiveStatus, startLive, stopLive } from './live';
import { AccessPage } from './pages/access';
import { AuditPage } from './pages/audit';
import { BudgetsPage } from './pages/budgets';
import { ImportPage } from './pages/import';
import { LedgerPage } from './pages/ledger';
import { PoolPage } from './pages/pool';
import { PoolsPage, prefetchPools } from './pages/pools';
import { ReportsPage } from './pages/reports';
import { type Me, whoAmI } from './session';
import './styles.css';

const CLIENT_REFUSED = 'This is a CLIENT key: it can check licenses out, not sign in here. Sign in with an ADMIN or VIEWER key.';

function SignIn({ onSignedIn, initialError }: { onSignedIn: (me: Me) => void; initialError?: ApiError }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<ApiError | undefined>(initialError);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    const typed = key.trim();
    if (!typed) return setError(new ApiError('BAD_USER_INPUT', 'Paste an API key first'));
    setBusy(true);
    setError(undefined);
    try {
      const me = await whoAmI(typed);
      if (me.role === 'CLIENT') {
        setError(new ApiError('FORBIDDEN', CLIENT_REFUSED));
        return;
      }
      storeKey(typed);
      setKey('');
      onSignedIn(me);
    } catch (err) {
      setError(asApiError(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <main class="signin">
      <h1>tokenpool</h1>
      <form onSubmit={submit} aria-describedby="signin-help">
        <label for="key">API key</label>
        <input
          id="key"
          name="key"
          type="password"
          autoComplete="off"
          spellcheck={false}
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        <p id="signin-help" class="muted">
          An ADMIN or VIEWER key (<code>tp_…</code>). It is kept in this tab only (sessionStorage) and sent as a header.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {error && <ErrorBox error={error} />}
    </main>
  );
}

function Nav({ me, page, onSignOut }: { me: Me; page: string; onSignOut: () => void }) {
  const [live, setLive] = useState(false);
  useEffect(() => onLiveStatus(setLive), []);
  const links: [string, string][] = [
    ['pools', 'Pools'],
    ['reports', 'Reports'],
    ['ledger', 'Ledger'],
    ['budgets', 'Budgets'],
  ];
  if (me.role === 'ADMIN') links.push(['import', 'Import'], ['access', 'Access'], ['audit', 'Audit log']);
  return (
    <header class="top">
      <span class="brand">tokenpool</span>
      <nav aria-label="Pages">
        {links.map(([id, label]) => (
          <a href={`#/${id}`} aria-current={page === id ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      <span class="who">
        <span class={live ? 'live on' : 'live'} role="status">
          {live ? 'live' : 'offline'}
        </span>{' '}
        {me.principal.name} ({me.role}) · {me.principal.organization.name}
      </span>
      <button type="button" class="link" onClick={onSignOut}>
        Sign out
      </button>
    </header>
  );
}

function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(!!storedKey());
  const [lost, setLost] = useState<ApiError | undefined>();
  const { parts, params } = useRoute();

  useEffect(() => {
    const onSignedOut = (e: Event) => {
      signOut();
      setLost((e as CustomEvent<ApiError>).detail);
    };
    addEventListener(SIGNED_OUT, onSignedOut);
    return () => removeEventListener(SIGNED_OUT, onSignedOut);
  }, []);

  useEffect(() => {
    if (!storedKey()) return;
    if (parts.length === 0 || (parts[0] === 'pools' && !parts[1])) prefetchPools();
    whoAmI().then(
      (m) => (m.role === 'CLIENT' ? signOut() : signedIn(m)),
      (err: unknown) => {
        forgetKey();
        setLost(asApiError(err));
        setChecking(false);
      },
    );
  }, []);

  function signedIn(m: Me) {
    setCurrency(m.principal.organization.currency);
    setMe(m);
    setChecking(false);
    startLive();
    if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/pools';
  }
  function signOut() {
    setLost(undefined);
    stopLive();
    forgetKey();
    setMe(null);
    setChecking(false);
  }

  if (checking)
    return (
      <p class="muted" role="status">
        Loading…
      </p>
    );
  if (!me) return <SignIn onSignedIn={signedIn} initialError={lost} />;
  const admin = me.role === 'ADMIN';
  const page = parts[0] ?? 'pools';
  let body;
  if (page === 'pools' && parts[1]) body = <PoolPage id={parts[1]} admin={admin} />;
  else if (page === 'reports') body = <ReportsPage poolId={params.get('pool')} />;
  else if (page === 'ledger') body = <LedgerPage />;
  else if (page === 'budgets') body = <BudgetsPage admin={admin} />;
  else if (page === 'import' && admin) body = <ImportPage />;
  else if (page === 'access' && admin) body = <AccessPage />;
  else if (page === 'audit' && admin) body = <AuditPage />;
  else if (page === 'access' || page === 'audit') body = <p class="error">The access pages and the audit log are for ADMIN keys.</p>;
  else if (page === 'import') body = <p class="error">Importing license logs is for ADMIN keys.</p>;
  else body = <PoolsPage admin={admin} />;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <Nav me={me} page={page} onSignOut={signOut} />
      <main id="main" tabIndex={-1}>
        {body}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
