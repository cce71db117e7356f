import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source';

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

/** Applies (or reverts the last of) the migrations under a Postgres advisory lock. Returns their names. */
export async function runMigrations(dataSource: DataSource, options: { revert?: boolean } = {}): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    if (options.revert) {
      await dataSource.undoLastMigration({ transaction: 'each' });
      return [];
    }
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    // Releasing the connection ends the session, which drops the lock anyway; unlock first
    // so a pooled connection never carries it on.
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    await runner.release();
  }
}

/** Opens a short-lived data source, applies pending migrations and closes it. */
export async function migrateDatabase(url: string, options: { create: boolean; revert?: boolean }): Promise<string[]> {
  if (options.create) await ensureDatabase(url);
  const dataSource = new DataSource(dataSourceOptions(url, { extra: { max: 2 } }));
  await dataSource.initialize();
  try {
    return await runMigrations(dataSource, options);
  } finally {
    await dataSource.destroy();
  }
}
