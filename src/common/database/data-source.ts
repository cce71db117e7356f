import { join } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { SnakeNamingStrategy } from './snake-naming.strategy';

// Migrations are compiled to dist/migrations; under ts-node or jest they are read from
// migrations/ at the repository root as TypeScript.
const migrationsGlob = __filename.endsWith('.ts') ? join(__dirname, '..', '..', '..', 'migrations', '*.ts') : join(__dirname, '..', '..', 'migrations', '*.js');

/**
 * The one description of the database, shared by the Nest app, the worker, the operator
 * CLI and the TypeORM migration CLI. Schema changes go through migrations only.
 */
export function dataSourceOptions(url: string, extra: Partial<DataSourceOptions> = {}, poolMax = 20): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'schema_migrations',
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    migrations: [migrationsGlob],
    namingStrategy: new SnakeNamingStrategy(),
    extra: { max: poolMax, connectionTimeoutMillis: 5000 },
    ...extra,
  } as DataSourceOptions;
}
