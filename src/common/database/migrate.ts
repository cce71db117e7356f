import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source';
import { grantAppRole, roleOfUrl } from './roles';

// An arbitrary constant shared by every replica: pg_advisory_lock(key) makes concurrent
// starts apply migrations one at a time; the others find nothing left to do.
const MIGRATION_LOCK_KEY = 7_246_151_001;

/** Creates the database named in the URL when it does not exist yet (local development). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!name) return;
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((err: { code?: string }) => {
        // Several processes may race to create it: the losers see duplicate_database, or a
        // unique violation on pg_database when they collide mid-creation. Either way it exists.
        if (err.code !== '42P04' && err.code !== '23505') throw err;
      });
    }
  } finally {
    await client.end();
  }
}

/**
 * Applies (or reverts the last of) the migrations under a Postgres advisory lock. Returns their
 * names. With `grantTo` (the application's role, when the data source connects as the owner),
 * then grants that role its privileges (grantAppRole) in one transaction, under the same lock,
 * on every run: new tables and ledger partitions are covered whatever the migrations did.
 */
export async function runMigrations(dataSource: DataSource, options: { revert?: boolean; grantTo?: string } = {}): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    let applied: string[] = [];
    if (options.revert) await dataSource.undoLastMigration({ transaction: 'each' });
    else applied = (await dataSource.runMigrations({ transaction: 'each' })).map((m) => m.name);
    if (options.grantTo !== undefined) {
      await runner.startTransaction();
      try {
        await grantAppRole(runner, options.grantTo);
        await runner.commitTransaction();
      } catch (err) {
        await runner.rollbackTransaction();
        throw err;
      }
    }
    return applied;
  } finally {
    // Releasing the connection ends the session, which drops the lock anyway; unlock first
    // so a pooled connection never carries it on.
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    await runner.release();
  }
}

/**
 * The application's role to grant after migrating: the role `url` (DATABASE_URL) connects as,
 * when an owner URL (DATABASE_OWNER_URL) names another role; otherwise none (one role does all).
 */
export async function appRoleToGrant(url: string, ownerUrl: string | undefined): Promise<string | undefined> {
  if (ownerUrl === undefined) return undefined;
  const [app, owner] = await Promise.all([roleOfUrl(url), roleOfUrl(ownerUrl)]);
  return app === owner ? undefined : app;
}

/**
 * Opens a short-lived data source, applies pending migrations and closes it. With `ownerUrl`
 * (DATABASE_OWNER_URL) the database is created, migrated and granted as the owner, and the
 * role `url` connects as gets its privileges (see runMigrations); without, `url` does it all.
 */
export async function migrateDatabase(url: string, options: { create: boolean; revert?: boolean; ownerUrl?: string }): Promise<string[]> {
  const ownerUrl = options.ownerUrl ?? url;
  if (options.create) await ensureDatabase(ownerUrl);
  const grantTo = await appRoleToGrant(url, options.ownerUrl);
  const dataSource = new DataSource(dataSourceOptions(ownerUrl, { extra: { max: 2 } }));
  await dataSource.initialize();
  try {
    return await runMigrations(dataSource, { revert: options.revert, grantTo });
  } finally {
    await dataSource.destroy();
  }
}
