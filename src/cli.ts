import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppError } from './common/errors/app-error';
import { migrateDatabase } from './common/database/migrate';
import { loadConfig } from './config/env';
import { CliModule } from './cli.module';
import { OnboardingService } from './onboarding/onboarding.service';
import { UsageRollupsService } from './reports/usage-rollups.service';

const USAGE = `Usage:
  node dist/cli.js migrate [--revert]             apply pending migrations (or revert the last one), as
                                                  DATABASE_OWNER_URL's role when set, then grant
                                                  DATABASE_URL's role its privileges
  node dist/cli.js org create <name> [--currency EUR]
                                                  create an organization with an ADMIN principal;
                                                  prints {"organizationId": "...", "adminKey": "..."}
  node dist/cli.js org admin-key <name>           issue a new ADMIN key for an organization's admin
  node dist/cli.js rollups run                    bring every pool's usage rollups up to date now
                                                  (what the worker's job does every ROLLUP_INTERVAL_SECONDS)
  node dist/cli.js rollups rebuild [--pool <id>] [--from <ISO date>] [--to <ISO date>]
                                                  recompute rolled-up hours (e.g. after FALSE_DENIAL_SECONDS
                                                  changed); prints {"pools": n, "hours": n}`;

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

async function withOnboarding<T>(work: (onboarding: OnboardingService) => Promise<T>): Promise<T> {
  const app = await NestFactory.createApplicationContext(CliModule, { logger: ['error'] });
  try {
    return await work(app.get(OnboardingService));
  } finally {
    await app.close();
  }
}

async function withRollups<T>(work: (rollups: UsageRollupsService) => Promise<T>): Promise<T> {
  const app = await NestFactory.createApplicationContext(CliModule, { logger: ['error'] });
  try {
    return await work(app.get(UsageRollupsService));
  } finally {
    await app.close();
  }
}

function dateOption(args: string[], name: string): Date | undefined {
  const raw = option(args, name);
  if (raw === undefined) return undefined;
  const date = new Date(raw);
  if (Number.isNaN(date.getTime())) throw new Error(`${name} must be an ISO 8601 date-time, got "${raw}"`);
  return date;
}

async function main(args: string[]): Promise<number> {
  const config = loadConfig();
  const [command, sub, name] = args;
  if (command === 'migrate') {
    const applied = await migrateDatabase(config.databaseUrl, {
      create: config.databaseCreate,
      revert: args.includes('--revert'),
      ownerUrl: config.databaseOwnerUrl,
    });
    console.log(JSON.stringify({ applied }));
    return 0;
  }
  if (command === 'org' && sub === 'create' && name) {
    await migrateDatabase(config.databaseUrl, { create: config.databaseCreate, ownerUrl: config.databaseOwnerUrl });
    const created = await withOnboarding((o) => o.createOrganization({ name, currency: option(args, '--currency') }));
    console.log(JSON.stringify(created));
    return 0;
  }
  if (command === 'org' && sub === 'admin-key' && name) {
    const issued = await withOnboarding((o) => o.issueAdminKey(name));
    console.log(JSON.stringify(issued));
    return 0;
  }
  if (command === 'rollups' && (sub === 'run' || sub === 'rebuild')) {
    const summary = await withRollups((r) =>
      sub === 'run' ? r.rollAll() : r.rebuildPools({ poolId: option(args, '--pool'), from: dateOption(args, '--from'), to: dateOption(args, '--to') }),
    );
    console.log(JSON.stringify(summary));
    return 0;
  }
  console.error(USAGE);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof AppError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
