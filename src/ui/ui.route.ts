import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { contentSecurityPolicy, loadUiFiles, pickEncoding, type UiFile } from './ui-files';

export const UI_PATH = '/ui';

/** dist/web beside the compiled code (dist/ui/ui.route.js); from the sources (ts-node, jest), the last build's. */
function uiDir(): string {
  const beside = join(__dirname, '..', 'web');
  return existsSync(join(beside, 'index.html')) ? beside : join(__dirname, '..', '..', 'dist', 'web');
}

/**
 * GET /ui/: the dashboard (web/, docs/dashboard.md), a static single-page app that speaks the
 * public GraphQL API with the key the person signs in with. No key is needed to fetch its
 * files; they hold nothing of any organization. Hashed assets are cached for a year, every
 * other path under /ui/ answers index.html (the app routes by hash) revalidated each time.
 */
@Injectable()
export class UiRoute implements OnModuleInit {
  private files = new Map<string, UiFile>();

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify) return;
    this.files = loadUiFiles(uiDir());
    // /ui (no slash) moves to /ui/. A hook rather than a route: it reads nothing, and the
    // isolation walk (test/isolation.e2e-spec.ts) expects every GET route to answer an ADMIN's 200.
    fastify.addHook('onRequest', async (request, reply) => {
      if ((request.method === 'GET' || request.method === 'HEAD') && (request.url === UI_PATH || request.url.startsWith(`${UI_PATH}?`)))
        return reply.redirect(`${UI_PATH}/${request.url.slice(UI_PATH.length)}`, 301);
    });
    fastify.get(`${UI_PATH}/*`, (request, reply) => this.serve(request, reply));
  }

  private serve(request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const path = (request.params as { '*': string })['*'] ?? '';
    reply.header('content-security-policy', contentSecurityPolicy(request.headers.host));
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    const index = this.files.get('index.html');
    if (!index) {
      return reply
        .code(503)
        .header('cache-control', 'no-store')
        .type('text/plain; charset=utf-8')
        .send('The dashboard is not built: run npm run build (it writes dist/web).');
    }
    let file = this.files.get(path);
    if (!file) {
      // A missing hashed asset is a 404 (an old page asking for a file of a previous build), not the app.
      if (path.startsWith('assets/')) return reply.code(404).header('cache-control', 'no-store').type('text/plain; charset=utf-8').send('Not found');
      file = index;
    }
    reply.header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    reply.header('vary', 'accept-encoding');
    reply.type(file.type);
    const encoding = pickEncoding(request.headers['accept-encoding'], file);
    if (encoding) reply.header('content-encoding', encoding);
    return reply.send(encoding === 'br' ? file.br : encoding === 'gzip' ? file.gzip : file.body);
  }
}
