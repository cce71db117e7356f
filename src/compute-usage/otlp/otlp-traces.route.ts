import { Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Logger } from '@nestjs/common';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Role } from '../../auth/role';
import { RequestAuthService } from '../../auth/request-auth.service';
import { AppError, errorBody } from '../../common/errors/app-error';
import { answerRouteError } from '../../common/errors/route-errors';
import { OtlpLimitExceeded } from './otlp-limits';
import { encodeTraceResponse } from './otlp-protobuf';
import { OtlpBody, OtlpTracesService } from './otlp-traces.service';

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
 * A body over OTLP_BODY_LIMIT_BYTES (gzipped or inflated), OTLP_MAX_SPANS or
 * OTLP_MAX_ATTRIBUTES is refused with 413 and the usual coded body (BAD_REQUEST).
 */
export function registerOtlpTracesRoute(fastify: FastifyInstance, deps: { auth: RequestAuthService; traces: OtlpTracesService; bodyLimit: number }): void {
  void fastify.register(async (instance) => {
    instance.setErrorHandler((error: FastifyError, _request, reply) => answerError(reply, error, deps.bodyLimit));
    // Both encodings reach the service as received: it decodes them within the OTLP bounds
    // (JSON.parse would build every object of the body before anything could count them).
    instance.removeContentTypeParser('application/json');
    instance.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    instance.addContentTypeParser(PROTOBUF, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
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
          return inflateWithin(payload, deps.bodyLimit);
        },
      },
      async (request: FastifyRequest, reply: FastifyReply) => {
        const body: OtlpBody = Buffer.isBuffer(request.body) ? { protobuf: request.body } : { json: request.body as string };
        const partialSuccess = await deps.traces.export(request.auth!, body);
        if ('protobuf' in body) return reply.type(PROTOBUF).send(encodeTraceResponse(partialSuccess));
        return { partialSuccess };
      },
    );
  });
}

/**
 * The gunzipped payload, stopped as soon as it inflates past `limit` bytes or its gzipped
 * bytes pass it. Fastify counts the inflated bytes too and refuses the body there, but would
 * leave the gunzip inflating the rest of the request into nothing: here the inflating stops,
 * the rest of the request is drained unread, and a gzip bomb costs at most `limit` bytes of work.
 */
function inflateWithin(payload: Readable, limit: number): Readable {
  const gunzip = createGunzip();
  let compressed = 0;
  let inflated = 0;
  let stopped = false;
  const stop = (message: string): Error => {
    if (!stopped) {
      stopped = true;
      payload.unpipe(gunzip);
      gunzip.destroy();
      payload.resume();
    }
    return new OtlpLimitExceeded(`${message} more than ${limit} bytes (OTLP_BODY_LIMIT_BYTES)`, 'OTLP_BODY_LIMIT_BYTES', limit);
  };
  const capped = new Transform({
    transform(chunk: Buffer, _encoding, next) {
      inflated += chunk.length;
      if (inflated > limit) next(stop('The body inflates to'));
      else next(null, chunk);
    },
  });
  payload.on('data', (chunk: Buffer) => {
    compressed += chunk.length;
    if (compressed > limit && !stopped) capped.destroy(stop('The gzipped body is'));
  });
  payload.on('error', (err) => capped.destroy(err));
  gunzip.on('error', (err) => capped.destroy(Object.assign(new Error(`The body is not valid gzip (${err.message})`), { statusCode: 400 })));
  return payload.pipe(gunzip).pipe(capped);
}

function answerError(reply: FastifyReply, error: unknown, bodyLimit: number): FastifyReply {
  if (error instanceof OtlpLimitExceeded) return reply.code(error.statusCode).send(errorBody(error.code, error.message, error.extensions));
  if ((error as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return reply
      .code(413)
      .send(errorBody('BAD_REQUEST', `The body is more than ${bodyLimit} bytes (OTLP_BODY_LIMIT_BYTES)`, { limit: 'OTLP_BODY_LIMIT_BYTES', max: bodyLimit }));
  }
  return answerRouteError(reply, error, { name: 'POST /v1/traces', logger });
}
