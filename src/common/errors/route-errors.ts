import type { Logger } from '@nestjs/common';
import type { FastifyError, FastifyReply } from 'fastify';
import { AppError, errorBody, httpStatusFor } from './app-error';
import { isDependencyDown } from './dependency-errors';

/**
 * How a plain Fastify route (the import, OTLP and MCP endpoints, beside GraphQL) answers what
 * it threw, after its own cases (its body limit's 413): an AppError with its contract status
 * and a Retry-After when it has one (RATE_LIMITED always does); an unreachable dependency as
 * 503 UNAVAILABLE; Fastify's own 4xx as BAD_REQUEST; anything else logged and a bare 500.
 */
export function answerRouteError(reply: FastifyReply, error: unknown, route: { name: string; logger: Logger }): FastifyReply {
  if (error instanceof AppError) {
    const retryAfter = error.extensions.retryAfterSeconds;
    if (typeof retryAfter === 'number' || error.code === 'RATE_LIMITED') reply.header('retry-after', String(retryAfter ?? 1));
    return reply.code(httpStatusFor(error.code)).send(errorBody(error.code, error.message, error.extensions));
  }
  if (isDependencyDown(error)) {
    return reply
      .code(503)
      .header('retry-after', '2')
      .send(errorBody('UNAVAILABLE', 'A storage dependency is unreachable; retry shortly', { retryAfterSeconds: 2 }));
  }
  const status = (error as FastifyError).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return reply.code(status).send(errorBody('BAD_REQUEST', (error as Error).message));
  route.logger.error({ err: error }, `Unexpected fault in ${route.name}`);
  return reply.code(500).send(errorBody('INTERNAL_SERVER_ERROR', 'Internal server error'));
}
