import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '../../config/env';
import { dataSourceOptions } from './data-source';

// Every entity of the service, whichever features a process loads: relations between
// entities (and the schema check) need the whole model, in the API and the worker alike.
const ENTITIES = join(__dirname, '..', '..', '**', '*.entity.{js,ts}');

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        ...dataSourceOptions(config.databaseUrl, {}, config.databasePoolMax),
        entities: [ENTITIES],
        autoLoadEntities: true,
        // Fail the boot within seconds when PostgreSQL is not there, with the reason logged.
        retryAttempts: 5,
        retryDelay: 1000,
      }),
    }),
  ],
})
export class DatabaseModule {}
