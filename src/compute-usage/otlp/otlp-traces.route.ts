import { createGunzip } from 'node:zlib';
import { Logger } from '@nestjs/common';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Role } from '../../api-keys/api-key.entity';
import { RequestAuthService } from '../../auth/request-auth.service';
import { AppError, errorBody, httpStatusFor } from '../../common/errors/app-error';
import { isDependencyDown } from '../../common/errors/dependency-errors';
import { decodeTraceExport, encodeTraceResponse } from './otlp-protobuf';
import { OtlpTracesService } from './otlp-traces.service';

export const OTLP_TRACES_PATH = '/v1/traces';
const PROTOBUF = 'application/x-protobuf';
const WRITERS: Role[] = ['ADMIN', 'CLIENT'];
const logger = new Logger('OtlpTraces');

/**
 * POST /v1/traces, the OTLP/HTTP trace endpoint, as a plain Fastify route in its own
 * encapsulated plugin (its body limit, gzip and error shape touch no other route).
 * Authenticated like GraphQL (Authorization: Bearer <api key>), for ADMIN and CLIENT keys,
 * before the body is read. Both OTLP/HTTP encodings: JSON (application/json) and protobuf
 * (application/x-protobuf); the answer is an ExportTraceServiceResponse in the request's
 * encoding: { "partialSuccess": {} } or { "partialSuccess": { "rejectedSpans": n, "errorMessage": "..." } }.
 */
export function registerOtlpTracesRoute(fastify: FastifyInstance, deps: { auth: RequestAuthService; traces: OtlpTracesService; bodyLimit: number }): void {
  void fastify.register(async (instance) => {
    instance.setErrorHandler((error: FastifyError, _request, reply) => answerError(reply, error));
    // Plain JSON.parse: Fastify's default parser also scans the whole text twice for
    // __proto__ and constructor keys, which protects code that merges request objects into
    // others; this route only reads named fields of the export (see otlp-spans.ts).
    instance.removeContentTypeParser('application/json');
    instance.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch {
        done(Object.assign(new Error('The body is not valid JSON'), { statusCode: 400 }), undefined);
      }
    });
    instance.addContentTypeParser(PROTOBUF, { parseAs: 'buffer' }, (_request, body, done) => {
      try {
        done(null, decodeTraceExport(body as Buffer));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    instance.post(
      OTLP_TRACES_PATH,
      {
        bodyLimit: deps.bodyLimit,
        onRequest: async (request: FastifyRequest) => {
          const auth = await deps.auth.authenticate(request.headers.authorization);
          if (!WRITERS.includes(auth.role)) throw new AppError('FORBIDDEN', `A ${auth.role} key may not export traces; it needs one of: ${WRITERS.join(', ')}`);
          request.auth = auth;
        },
        // OTLP exporters may gzip the body; the body limit then applies to what it inflates to.
        preParsing: async (request: FastifyRequest, _reply: FastifyReply, payload) => {
          if (request.headers['content-encoding'] !== 'gzip') return payload;
          delete request.headers['content-length'];
          return payload.pipe(createGunzip());
        },
      },
      async (request: FastifyRequest, reply: FastifyReply) => {
        const partialSuccess = await deps.traces.export(request.auth!, request.body);
        if (request.headers['content-type']?.startsWith(PROTOBUF)) return reply.type(PROTOBUF).send(encodeTraceResponse(partialSuccess));
        return { partialSuccess };
      },
    );
  });
}

function answerError(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof AppError) {
    if (error.code === 'RATE_LIMITED') reply.header('retry-after', String(error.extensions.retryAfterSeconds ?? 1));
    return reply.code(httpStatusFor(error.code)).send(errorBody(error.code, error.message, error.extensions));
  }
  if (isDependencyDown(error)) return reply.code(503).header('retry-after', '2').send(errorBody('UNAVAILABLE', 'A storage dependency is unreachable; retry shortly', { retryAfterSeconds: 2 }));
  const status = (error as { statusCode?: number }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return reply.code(status).send(errorBody('BAD_REQUEST', (error as Error).message));
  logger.error({ err: error }, 'Unexpected fault in POST /v1/traces');
  return reply.code(500).send(errorBody('INTERNAL_SERVER_ERROR', 'Internal server error'));
}
