import 'reflect-metadata';
import { Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { DataSource } from 'typeorm';
import { warnIfLedgerRewritable } from './common/database/roles';
import { requestIdFor } from './common/logging/request-id';
import { loadConfig } from './config/env';
import { closeOnSignals } from './process-lifecycle';
import { WorkerModule } from './worker.module';

async function main(): Promise<void> {
  const config = loadConfig();
  // The worker serves only /health/* and /metrics, on WORKER_PORT, for probes and scraping (nothing public, so no separate metrics port).
  const app = await NestFactory.create<NestFastifyApplication>(WorkerModule, new FastifyAdapter({ forceCloseConnections: 'idle', genReqId: requestIdFor }), {
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  await warnIfLedgerRewritable(app.get(DataSource), config, (line) => new NestLogger('Database').warn(line));
  closeOnSignals(app, config.shutdownGraceSeconds);
  await app.listen({ port: config.workerPort, host: config.host });
  new NestLogger('Worker').log(`tokenpool worker running; health on port ${config.workerPort}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
