import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';

const ROOT = join(__dirname, '..');

/** The PostgreSQL the benches create their databases on (a superuser: they drop and create). */
export const ADMIN_URL = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Drops and creates database `name`; returns its URL. */
export async function freshDatabase(name: string): Promise<string> {
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Waits (up to 30 s) until `url` answers with a status below `below` (default: a 2xx). */
export async function waitForUrl(url: string, below = 300): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (
      await fetch(url).then(
        (r) => r.status < below,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

/** The environment of an API process under a benchmark: its own database and Redis prefix, no rate limit, no metrics port. */
export function benchApiEnv(options: { databaseUrl: string; redisPrefix: string; port: number; logLevel?: string }): Record<string, string> {
  return {
    DATABASE_URL: options.databaseUrl,
    REDIS_PREFIX: options.redisPrefix,
    LOG_LEVEL: options.logLevel ?? 'warn',
    RATE_LIMIT_PER_KEY: '10000000',
    METRICS_PORT: '0',
    PORT: String(options.port),
    HOST: '127.0.0.1',
  };
}

/** `dist/cli.js org create <name>` in `env` (over this process's environment): the organization and its admin key. */
export function createBenchOrganization(env: NodeJS.ProcessEnv, name = 'bench'): { organizationId: string; adminKey: string } {
  const created = execFileSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'org', 'create', name], { env: { ...process.env, ...env } });
  return JSON.parse(created.toString()) as { organizationId: string; adminKey: string };
}
