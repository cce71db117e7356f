import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * One id per request, shared by Fastify and the pino logger: the caller's X-Request-Id
 * when it is sane, otherwise a new UUID. Kept on the raw request so both read the same one.
 */
export function requestIdFor(req: Pick<IncomingMessage, 'headers'>): string {
  const carrier = req as { id?: unknown; headers: IncomingMessage['headers'] };
  if (typeof carrier.id === 'string') return carrier.id;
  const given = carrier.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  carrier.id = id;
  return id;
}

/** What a log line says about its request (pino-std-serializers' fields, less the headers). */
export function requestLine(req: { id?: unknown; method?: string; url?: string; remoteAddress?: string }): Record<string, unknown> {
  return { id: req.id, method: req.method, url: req.url, remoteAddress: req.remoteAddress };
}
