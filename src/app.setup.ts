import { Logger as NestLogger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';
import { DataSource } from 'typeorm';
import { AppModule } from './app.module';
import { RequestAuthService } from './auth/request-auth.service';
import { AppError, errorBody, httpStatusFor } from './common/errors/app-error';
import { isDependencyDown } from './common/errors/dependency-errors';
import { ensureDatabase, migrateDatabase, runMigrations } from './common/database/migrate';
import { warnIfLedgerRewritable } from './common/database/roles';
import { requestIdFor } from './common/logging/request-id';
import { MetricsService } from './common/metrics/metrics.service';
import { registerOtlpTracesRoute } from './compute-usage/otlp/otlp-traces.route';
import { registerLicenseLogImportRoute } from './license-logs/import.route';
import { LicenseLogImportService } from './license-logs/license-log-import.service';
import { OtlpTracesService } from './compute-usage/otlp/otlp-traces.service';
import { loadConfig } from './config/env';
import { OnboardingService } from './onboarding/onboarding.service';

const GRAPHQL_PATH = '/graphql';

/**
 * Builds the API application exactly as main.ts serves it (tests use the same function):
 * Fastify with a body limit, the request-level hooks (authentication and rate limit,
 * metrics), migrations applied under an advisory lock, and the bootstrap admin.
 */
export async function createApiApp(): Promise<NestFastifyApplication> {
  const config = loadConfig();
  // The owner creates the database (the application's role need not have CREATEDB).
  if (config.databaseCreate) await ensureDatabase(config.databaseOwnerUrl ?? config.databaseUrl);
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    genReqId: requestIdFor,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, adapter, { bufferLogs: true });
  app.useLogger(app.get(Logger));
  const fastify = app.getHttpAdapter().getInstance();
  registerRequestHooks(fastify, app.get(RequestAuthService), app.get(MetricsService));
  registerOtlpTracesRoute(fastify, { auth: app.get(RequestAuthService), traces: app.get(OtlpTracesService), bodyLimit: config.otlpBodyLimitBytes });
  registerLicenseLogImportRoute(fastify, { auth: app.get(RequestAuthService), imports: app.get(LicenseLogImportService) });
  if (config.migrationsRun) {
    // With an owner role, migrations and the grants run on a short-lived connection as the
    // owner; the application's own pool connects as DATABASE_URL's role throughout.
    const applied =
      config.databaseOwnerUrl === undefined
        ? await runMigrations(app.get(DataSource))
        : await migrateDatabase(config.databaseUrl, { create: false, ownerUrl: config.databaseOwnerUrl });
    if (applied.length > 0) new NestLogger('Migrations').log(`Applied ${applied.join(', ')}`);
  }
  await warnIfLedgerRewritable(app.get(DataSource), config, (line) => new NestLogger('Database').warn(line));
  await app.get(OnboardingService).bootstrap(config.bootstrapAdminKey);
  return app;
}

function refuse(reply: FastifyReply, error: AppError): FastifyReply {
  // A refusal for now (rate limit, a dependency down) says when to come back, as the application's filter does.
  if (typeof error.extensions.retryAfterSeconds === 'number') reply.header('retry-after', String(error.extensions.retryAfterSeconds));
  return reply.code(httpStatusFor(error.code)).send(errorBody(error.code, error.message, error.extensions));
}

/**
 * Only a real WebSocket handshake (a GET that Node's parser took as an upgrade) skips the
 * key check here, because it authenticates in connection_init (graphql.options.ts) and can
 * run nothing before. Any other request, whatever headers it carries, is authenticated
 * before Mercurius parses, validates or analyses its document.
 */
function isWebSocketHandshake(request: FastifyRequest): boolean {
  return request.method === 'GET' && isUpgrade(request) && request.headers.upgrade?.toLowerCase() === 'websocket';
}

/** Node's parser took the request as an upgrade (Connection: Upgrade with an Upgrade header). */
function isUpgrade(request: FastifyRequest): boolean {
  return (request.raw as { upgrade?: boolean }).upgrade === true;
}

function registerRequestHooks(fastify: FastifyInstance, requestAuth: RequestAuthService, metrics: MetricsService): void {
  // While draining, answer in-flight requests with "Connection: close" so keep-alive
  // clients let go and the server can finish closing instead of waiting on idle sockets.
  let draining = false;
  fastify.addHook('preClose', async () => {
    draining = true;
  });
  fastify.addHook('onSend', async (_request, reply) => {
    if (draining) reply.header('connection', 'close');
  });

  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('x-request-id', request.id);
    if (isUpgrade(request) && !isWebSocketHandshake(request)) {
      // Node hands such a request over with its raw socket and no timeouts: answer and close it.
      reply.raw.once('finish', () => request.raw.socket?.destroy());
      return refuse(
        reply.header('connection', 'close'),
        new AppError('BAD_REQUEST', 'Only a GET WebSocket handshake (Upgrade: websocket) may ask for an upgrade'),
      );
    }
    if (request.routeOptions.url !== GRAPHQL_PATH || isWebSocketHandshake(request)) return;
    try {
      request.auth = await requestAuth.authenticate(request.headers.authorization);
    } catch (err) {
      if (err instanceof AppError) return refuse(reply, err);
      if (isDependencyDown(err)) return refuse(reply, AppError.unavailable('A storage dependency is unreachable; retry shortly', 2));
      throw err;
    }
  });

  fastify.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}
