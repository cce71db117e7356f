import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';

/**
 * One database and one Redis key prefix per test run, so runs never collide with each
 * other or with a dev server. Migrations are applied through the real CLI (dist/), which
 * `npm test` builds first. Child processes and jest workers inherit these variables.
 */
export default async function globalSetup(): Promise<void> {
  const root = join(__dirname, '..', '..');
  if (!existsSync(join(root, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it for you)');
  const runId = `${Date.now().toString(36)}_${process.pid}`;
  const base = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const database = `tokenpool_test_${runId}`;
  const admin = new Client({ connectionString: base.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  await admin.end();
  const url = new URL(base.toString());
  url.pathname = `/${database}`;
  Object.assign(process.env, {
    NODE_ENV: 'test',
    DATABASE_URL: url.toString(),
    DATABASE_CREATE: 'false',
    MIGRATIONS_RUN: 'false',
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `tptest:${runId}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RATE_LIMIT_PER_KEY: '1000000',
    // Tests seal when they mean to (sealLedger): a worker's first seal run would seal other tests' rows under them.
    LEDGER_SEAL_INTERVAL_SECONDS: '0',
    // Several in-process apps and API processes run at once: each takes a free metrics port.
    METRICS_PORT: '0',
    TP_TEST_DATABASE: database,
    TP_TEST_ADMIN_URL: base.toString(),
  });
  execFileSync(process.execPath, [join(root, 'dist', 'cli.js'), 'migrate'], { env: process.env, stdio: 'pipe' });
}
