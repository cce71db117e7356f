import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { migrateDatabase } from '../common/database/migrate';
import { AppError } from '../common/errors/app-error';
import { loadConfig } from '../config/env';
import { DemoDayStats, DemoHistoryService } from './demo-history.service';
import { DemoModule } from './demo.module';
import { DemoTenantService } from './demo-tenant.service';

const USAGE = `Usage: node dist/demo/seed-demo.js [--days 90] [--name <organization>] [--seed 42]
  creates an organization with two pools, a dozen apps, teams, agents and --days days of
  history up to last midnight (UTC); prints progress, then {"organizationId", "adminKey", ...}`;
const DAY = 86_400_000;

function option(args: string[], name: string, fallback: string): string {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback;
}

function intOption(args: string[], name: string, fallback: number, max: number): number {
  const value = Number(option(args, name, String(fallback)));
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`${name} must be an integer from 1 to ${max}\n${USAGE}`);
  return value;
}

const fmt = (n: number) => n.toLocaleString('en-US');

async function seed(args: string[]): Promise<void> {
  const days = intOption(args, '--days', 90, 365);
  const seedValue = intOption(args, '--seed', 42, 2 ** 31 - 1);
  const startedAt = Date.now();
  const name = option(args, '--name', `demo-${new Date(startedAt).toISOString().slice(0, 19)}`);
  const config = loadConfig();
  await migrateDatabase(config.databaseUrl, { create: config.databaseCreate, ownerUrl: config.databaseOwnerUrl });
  const app = await NestFactory.createApplicationContext(DemoModule, { logger: ['error'] });
  try {
    // Whole UTC days ending at the last midnight: every lease and its linger lie in the past.
    const first = Math.floor(startedAt / DAY) * DAY - days * DAY;
    const tenant = await app.get(DemoTenantService).create({ name, pricesFrom: new Date(first - DAY) });
    console.log(`organization "${name}" (${tenant.organizationId}): 2 pools, 12 apps, ${tenant.principals.size} principals`);
    const history = app.get(DemoHistoryService);
    const total: DemoDayStats = { leases: 0, denials: 0, computeEvents: 0, workUnits: 0, outcomes: 0 };
    for (let i = 0; i < days; i++) {
      const day = await history.seedDay(tenant, { seed: seedValue, index: i, start: first + i * DAY, recent: i >= days - 2 });
      for (const k of Object.keys(total) as (keyof DemoDayStats)[]) total[k] += day[k];
      const date = new Date(first + i * DAY).toISOString().slice(0, 10);
      console.log(
        `day ${i + 1}/${days} (${date}): ${fmt(day.leases)} leases, ${fmt(day.denials)} denials, ${fmt(day.computeEvents)} compute events, ${fmt(day.workUnits)} work units`,
      );
    }
    const budgets = await app.get(DemoTenantService).createBudgets(tenant);
    console.log(`${budgets} compute budgets`);
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    console.log(
      `done in ${seconds} s: ${fmt(total.leases)} leases, ${fmt(total.denials)} denials, ${fmt(total.computeEvents)} compute events, ${fmt(total.workUnits)} work units, ${fmt(total.outcomes)} outcomes`,
    );
    const pools = Object.fromEntries([...tenant.pools].map(([id, p]) => [id, p.pool.id]));
    console.log(
      JSON.stringify({
        organizationId: tenant.organizationId,
        adminKey: tenant.adminKey,
        viewerKey: tenant.viewerKey,
        pools,
        from: new Date(first).toISOString(),
        to: new Date(first + days * DAY).toISOString(),
      }),
    );
  } finally {
    await app.close();
  }
}

seed(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof AppError ? `${err.code}: ${err.message} ${JSON.stringify(err.extensions)}` : err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
