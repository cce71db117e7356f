import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/common/database/data-source';
import { TestApp } from './support/app';
import { runCli } from './support/processes';

describe('migrations', () => {
  it('leave nothing for the entities to change (the schema matches the code)', async () => {
    const t = await TestApp.start();
    try {
      const pending = await t.app.get(DataSource).driver.createSchemaBuilder().log();
      expect(pending.upQueries.map((q) => q.query)).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('revert to an empty database and apply again, through the CLI', async () => {
    const database = `tokenpool_mig_${Date.now().toString(36)}`;
    const adminUrl = process.env.TP_TEST_ADMIN_URL!;
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    const env = { DATABASE_URL: url.toString(), DATABASE_CREATE: 'true' };
    try {
      const up = await runCli(['migrate'], env);
      expect(up.code).toBe(0);
      const applied: string[] = JSON.parse(up.stdout).applied;
      expect(applied.length).toBeGreaterThan(0);
      for (let i = 0; i < applied.length; i++) expect((await runCli(['migrate', '--revert'], env)).code).toBe(0);
      const probe = new DataSource(dataSourceOptions(url.toString()));
      await probe.initialize();
      const tables: { n: number }[] = await probe.query(
        `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'schema_migrations'`,
      );
      await probe.destroy();
      expect(tables[0].n).toBe(0);
      const again = await runCli(['migrate'], env);
      expect(JSON.parse(again.stdout).applied).toEqual(applied);
    } finally {
      const admin = new Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await admin.end();
    }
  });

  it('apply once when several processes start together', async () => {
    const database = `tokenpool_race_${Date.now().toString(36)}`;
    const adminUrl = process.env.TP_TEST_ADMIN_URL!;
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    const env = { DATABASE_URL: url.toString(), DATABASE_CREATE: 'true' };
    try {
      const runs = await Promise.all([runCli(['migrate'], env), runCli(['migrate'], env), runCli(['migrate'], env)]);
      expect(runs.map((r) => r.code)).toEqual([0, 0, 0]);
      const appliedCounts = runs.map((r) => JSON.parse(r.stdout).applied.length).sort();
      expect(appliedCounts.filter((n) => n > 0)).toHaveLength(1);
    } finally {
      const admin = new Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await admin.end();
    }
  });
});
