import Redis from 'ioredis';
import { Client } from 'pg';
import { unlinkPrefix } from './redis-keys';

/** Drops the run's database and deletes the run's Redis keys (only ours: by prefix, never FLUSHDB). */
export default async function globalTeardown(): Promise<void> {
  const database = process.env.TP_TEST_DATABASE;
  if (database) {
    const admin = new Client({ connectionString: process.env.TP_TEST_ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    // Worlds of fault tests (test/support/processes.ts startWorld) that an aborted test left behind.
    const worlds: { datname: string }[] = (await admin.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [`${database}_w`])).rows;
    for (const { datname } of worlds) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await admin.end();
  }
  const prefix = process.env.REDIS_PREFIX;
  if (prefix?.startsWith('tptest:')) {
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    await unlinkPrefix(redis, `${prefix}:`);
    await redis.quit();
  }
}
