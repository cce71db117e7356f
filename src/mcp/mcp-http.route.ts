import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RequestAuthService } from '../auth/request-auth.service';
import { AppError, errorBody } from '../common/errors/app-error';
import { answerRouteError } from '../common/errors/route-errors';
import { McpSessionsService } from './mcp-sessions.service';
import type { McpSession } from './mcp-session';

export const MCP_PATH = '/mcp';
const logger = new Logger('McpHttp');

/**
 * GET, POST and DELETE /mcp: the MCP Streamable HTTP transport on the API's port, as a plain
 * Fastify route in its own plugin. Authenticated like /graphql (Bearer key, the same per-key
 * rate limit, spent once per HTTP request) before the body is read; the body limit is the
 * API's BODY_LIMIT_BYTES. Refusals before the transport runs (no key, a session of another
 * key, a body too large) answer the API's coded JSON body with its HTTP status; once a
 * session is found, the reply is hijacked and the SDK's transport writes to the raw response.
 */
@Injectable()
export class McpHttpRoute implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly requestAuth: RequestAuthService,
    private readonly sessions: McpSessionsService,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify) return;
    void fastify.register(async (instance) => {
      instance.setErrorHandler((error: FastifyError, _request, reply) => answerError(reply, error));
      instance.route({
        method: ['GET', 'POST', 'DELETE'],
        url: MCP_PATH,
        onRequest: async (request: FastifyRequest) => {
          request.auth = await this.requestAuth.authenticate(request.headers.authorization);
        },
        handler: (request, reply) => this.handle(request, reply),
      });
    });
  }

  private async handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const auth = request.auth!;
    if (Array.isArray(request.body)) throw new AppError('BAD_REQUEST', 'Send one JSON-RPC message per request; batches are not accepted');
    const sessionId = request.headers['mcp-session-id'];
    let session: McpSession | undefined;
    let opened = false;
    if (typeof sessionId === 'string') {
      session = this.sessions.find(sessionId, auth);
      if (!session) {
        throw new AppError(
          'NOT_FOUND',
          'No MCP session with this id for your key: it was closed, idled out, or lived on a server that went away. Start a new session with initialize',
        );
      }
    } else {
      if (request.method !== 'POST' || !isInitializeRequest(request.body)) {
        throw new AppError('BAD_REQUEST', 'Open a session with an initialize request (POST, no mcp-session-id); then send the mcp-session-id it answered');
      }
      session = this.sessions.open(auth);
      await this.sessions.connect(session);
      opened = true;
    }
    const end = session.begin();
    reply.raw.once('close', end);
    reply.hijack();
    try {
      await session.transport.handleRequest(request.raw, reply.raw, request.body);
    } catch (err) {
      logger.error({ err, session: session.id }, 'Unexpected fault in the MCP transport');
      if (!reply.raw.headersSent)
        reply.raw.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify(errorBody('INTERNAL_SERVER_ERROR', 'Internal server error')));
      else reply.raw.end();
    } finally {
      // An initialize that failed leaves a session the registry never took: nothing may keep it.
      if (opened && !this.sessions.holds(session)) await this.sessions.close(session, 'never initialized');
    }
  }
}

function answerError(reply: FastifyReply, error: unknown): FastifyReply {
  if ((error as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return reply.code(413).send(errorBody('BAD_REQUEST', 'The body is larger than BODY_LIMIT_BYTES', { limit: 'BODY_LIMIT_BYTES' }));
  }
  return answerRouteError(reply, error, { name: '/mcp', logger });
}
