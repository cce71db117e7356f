import { Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Logger } from '@nestjs/common';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RequestAuthService } from '../auth/request-auth.service';
import { AppError, errorBody } from '../common/errors/app-error';
import { answerRouteError } from '../common/errors/route-errors';
import { LicenseLogImportService } from './license-log-import.service';

export const IMPORT_PATH = '/v1/imports/:format';
/** The most bytes one import may send (after gzip is inflated). */
export const MAX_IMPORT_BYTES = 2 * 1024 ** 3;
const logger = new Logger('LicenseLogImport');

class TooLarge extends Error {}

/**
 * POST /v1/imports/{flexlm|rlm|lmstat}?poolId=&tz= (ADMIN): a license server's log as the
 * body, text (any content type), gzip allowed (Content-Encoding: gzip, or the gzip magic
 * bytes), read as a stream: never held whole in memory, and never parsed by Fastify. In an
 * encapsulated plugin, so its body handling touches no other route. Authenticated before the
 * body is read; answers the import's summary (docs/license-logs.md).
 */
export function registerLicenseLogImportRoute(fastify: FastifyInstance, deps: { auth: RequestAuthService; imports: LicenseLogImportService }): void {
  void fastify.register(async (instance) => {
    instance.setErrorHandler((error: FastifyError, _request, reply) => answerError(reply, error));
    // Every content type reaches the handler as the raw request stream.
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    instance.post(
      IMPORT_PATH,
      {
        onRequest: async (request: FastifyRequest) => {
          const auth = await deps.auth.authenticate(request.headers.authorization);
          if (auth.role !== 'ADMIN') throw new AppError('FORBIDDEN', `A ${auth.role} key may not import license logs; it needs an ADMIN key`);
          request.auth = auth;
        },
      },
      async (request: FastifyRequest, reply: FastifyReply) => {
        const params = request.params as { format?: string };
        const query = request.query as Record<string, unknown>;
        const payload = (request.body as Readable | undefined) ?? Readable.from([]);
        const body = await decoded(payload, request.headers['content-encoding']);
        const summary = await deps.imports.import(request.auth!, { poolId: query.poolId, format: params.format, timeZone: query.tz }, body);
        return reply.send(summary);
      },
    );
  });
}

/** The body as chunks of the log: gunzipped when it says so or starts with the gzip magic, capped at MAX_IMPORT_BYTES either way. */
async function decoded(payload: Readable, encoding: string | string[] | undefined): Promise<AsyncIterable<Buffer>> {
  const iterator = payload[Symbol.asyncIterator]();
  const first = await iterator.next();
  const head: Buffer | null = first.done ? null : (first.value as Buffer);
  const rest = (async function* () {
    if (head) yield head;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value as Buffer;
  })();
  const gzip = encoding === 'gzip' || (head !== null && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b);
  const source = Readable.from(rest, { objectMode: false });
  let bytes = 0;
  const capped = new Transform({
    transform(chunk: Buffer, _encoding, next) {
      bytes += chunk.length;
      if (bytes > MAX_IMPORT_BYTES)
        next(new TooLarge(`The log is more than ${MAX_IMPORT_BYTES} bytes${gzip ? ' once inflated' : ''}: split it into several imports`));
      else next(null, chunk);
    },
  });
  if (!gzip) return source.pipe(capped);
  const gunzip = createGunzip();
  gunzip.on('error', (err) => capped.destroy(AppError.badInput('body', `The body is not valid gzip (${err.message})`)));
  return source.pipe(gunzip).pipe(capped);
}

function answerError(reply: FastifyReply, error: unknown): FastifyReply {
  // The rest of a refused body is left to Node, which discards it once the answer is sent, so
  // a client still uploading reads the answer; closing the connection would cut its upload
  // off before it could.
  if (error instanceof TooLarge) return reply.code(413).send(errorBody('BAD_REQUEST', error.message, { max: MAX_IMPORT_BYTES }));
  return answerRouteError(reply, error, { name: 'POST /v1/imports', logger });
}
