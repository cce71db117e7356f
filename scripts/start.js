// `npm start`: set up the two database roles, migrate, make sure an admin key exists, run the
// API and the worker together, and print how to authenticate. For local use; in production
// run dist/main.js and dist/worker.js as separate processes (see docker-compose.yml and helm/).
const { spawn, execFileSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { existsSync, mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { URL } = require('node:url');
const { Client } = require('pg');

const root = join(__dirname, '..');
const dist = (file) => join(root, 'dist', file);
const keyFile = join(root, '.tokenpool', 'admin-key');
const appPasswordFile = join(root, '.tokenpool', 'app-db-password');
const env = { LOG_LEVEL: 'warn', ...process.env };
/** The login role the API and the worker connect as: it may read and append to the ledger, never rewrite it. */
const APP_ROLE = 'tokenpool_app';
const port = env.PORT || '3000';
const base = `http://localhost:${port}`;

function cli(args) {
  return execFileSync(process.execPath, [dist('cli.js'), ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function saveKey(key) {
  mkdirSync(join(root, '.tokenpool'), { recursive: true });
  writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  return key;
}

/** The local admin key: BOOTSTRAP_ADMIN_KEY, the one saved by an earlier start, or a new one. */
function adminKey() {
  if (env.BOOTSTRAP_ADMIN_KEY) return env.BOOTSTRAP_ADMIN_KEY;
  if (existsSync(keyFile)) return readFileSync(keyFile, 'utf8').trim();
  return issueKey();
}

function issueKey() {
  try {
    return saveKey(JSON.parse(cli(['org', 'create', 'default'])).adminKey);
  } catch (err) {
    if (!String(err.stderr).includes('exists already')) throw err;
    return saveKey(JSON.parse(cli(['org', 'admin-key', 'default'])).adminKey);
  }
}

/** The app role's password, made once and kept beside the admin key (local trust auth ignores it). */
function appPassword() {
  if (existsSync(appPasswordFile)) return readFileSync(appPasswordFile, 'utf8').trim();
  mkdirSync(join(root, '.tokenpool'), { recursive: true });
  const password = randomBytes(18).toString('hex');
  writeFileSync(appPasswordFile, `${password}\n`, { mode: 0o600 });
  return password;
}

/**
 * The two roles (docs/operations.md, "The database roles"): DATABASE_URL (default: the local
 * superuser `postgres`) becomes DATABASE_OWNER_URL, which migrates and grants, and the API and
 * the worker connect as APP_ROLE, created here when missing. When DATABASE_OWNER_URL is set,
 * both URLs are taken as given. When the owner may not create roles, one role does it all, as
 * before (the service then warns that the ledger is protected by triggers only).
 */
async function setUpRoles() {
  if (env.DATABASE_OWNER_URL) return;
  const ownerUrl = env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/tokenpool';
  const app = new URL(ownerUrl);
  if (decodeURIComponent(app.username) === APP_ROLE) return;
  const password = appPassword();
  const maintenance = new URL(ownerUrl);
  maintenance.pathname = '/postgres';
  const client = new Client({ connectionString: maintenance.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [APP_ROLE]);
    if (found.rowCount === 0) {
      // The password is hex: safe to inline (CREATE ROLE takes no parameters).
      await client.query(`CREATE ROLE ${APP_ROLE} LOGIN PASSWORD '${password}'`).catch((err) => {
        if (err.code !== '42710') throw err; // created meanwhile by another start
      });
    }
  } catch (err) {
    console.warn(`tokenpool: could not create the database role ${APP_ROLE} (${err.message}); the API and the worker connect as the owner`);
    return;
  } finally {
    await client.end();
  }
  app.username = APP_ROLE;
  app.password = password;
  env.DATABASE_OWNER_URL = ownerUrl;
  env.DATABASE_URL = app.toString();
}

async function me(key) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: '{ me { name organization { name } } }' }),
  });
  return (await res.json()).data?.me;
}

async function waitReady(children) {
  for (let i = 0; i < 300; i++) {
    if (children.some((c) => c.exitCode !== null)) throw new Error('a process exited during start-up');
    const ok = await fetch(`${base}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the API did not become ready on ${base}`);
}

async function main() {
  await setUpRoles();
  console.log('tokenpool: applying migrations…');
  cli(['migrate']);
  let key = adminKey();
  const children = [['--max-semi-space-size=32', dist('main.js')], [dist('worker.js')]].map((args) => spawn(process.execPath, args, { env, stdio: 'inherit' }));
  let stopping = false;
  const stop = (signal) => {
    stopping = true;
    children.forEach((c) => c.exitCode === null && c.kill(signal));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  children.forEach((child) =>
    child.on('exit', (code) => {
      if (!stopping) {
        console.error(`tokenpool: ${child.spawnargs.at(-1)} exited (${code}); stopping`);
        stop('SIGTERM');
        process.exitCode = 1;
      }
    }),
  );
  await waitReady(children);
  if (!(await me(key)) && !env.BOOTSTRAP_ADMIN_KEY) key = issueKey();
  const who = await me(key);
  console.log(`
tokenpool is running: API and worker.
  GraphQL:  ${base}/graphql   (health: ${base}/health/ready)
  Metrics:  http://localhost:${env.METRICS_PORT || 9464}/metrics   (never on the public port)
  Admin key for organization "${who?.organization?.name}": ${key}
  (kept in .tokenpool/admin-key for the next start)

Try it, in another terminal in this folder:
  npx tokenpool status${port === '3000' ? '' : ` --url ${base}`}   # pools and who holds what (uses the key above)
  curl -s ${base}/graphql -H 'content-type: application/json' \\
    -H 'authorization: Bearer ${key}' -d '{"query":"{ me { name kind } }"}'

Stop with Ctrl+C.`);
}

main().catch((err) => {
  console.error(`tokenpool: could not start: ${err.message}`);
  console.error('Is PostgreSQL reachable at DATABASE_URL and Redis at REDIS_URL? (defaults: 127.0.0.1:5432 and 127.0.0.1:6379)');
  process.exit(1);
});
