import { Injectable } from '@nestjs/common';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError, ReadResourceResult, SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { isUuid } from '../common/validation/validate';
import type { McpSession } from './mcp-session';
import { PoolViews } from './pool-views';
import { asAppError } from './tool-result';

export const POOLS_URI = 'tokenpool://pools';
const POOL_URI = /^tokenpool:\/\/pools\/([^/]+)$/;
/** A session follows at most this many resources (a bound on what one client can make the server track). */
const MAX_SUBSCRIPTIONS = 100;

/** The pool a resource URI names, or null for tokenpool://pools; undefined when it is not one of ours. */
export function poolIdOf(uri: string): string | null | undefined {
  if (uri === POOLS_URI) return null;
  const match = POOL_URI.exec(uri);
  return match ? decodeURIComponent(match[1]) : undefined;
}

/**
 * The live pool resources, tokenpool://pools and tokenpool://pools/{id}, as JSON, and their
 * subscriptions: the session registry sends notifications/resources/updated to a session
 * that subscribed when one of its organization's pools changes, on any replica.
 */
@Injectable()
export class McpResources {
  constructor(private readonly pools: PoolViews) {}

  register(server: McpServer, session: McpSession): void {
    server.registerResource(
      'pools',
      POOLS_URI,
      {
        title: 'Pools',
        description: 'Every pool of your organization now: cap, inUse, available, activeLeases, queueLength, and its apps with their costs.',
        mimeType: 'application/json',
      },
      async (uri) => this.json(uri.href, async () => ({ pools: await this.pools.list(session.auth) })),
    );
    server.registerResource(
      'pool',
      new ResourceTemplate('tokenpool://pools/{id}', {
        list: async () => ({
          resources: (await this.pools.list(session.auth)).map((pool) => ({
            uri: `tokenpool://pools/${pool.id}`,
            name: pool.name,
            mimeType: 'application/json',
          })),
        }),
      }),
      {
        title: 'Pool',
        description: 'One pool now, by id: cap, inUse, available, activeLeases, queueLength, and its apps with their costs.',
        mimeType: 'application/json',
      },
      async (uri) => this.json(uri.href, () => this.pool(session, poolIdOf(uri.href) ?? '')),
    );

    server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
      const poolId = poolIdOf(request.params.uri);
      if (poolId === undefined) throw new McpError(ErrorCode.InvalidParams, `Unknown resource ${request.params.uri.slice(0, 200)}`);
      if (poolId !== null) await this.pool(session, poolId);
      if (!session.subscriptions.has(request.params.uri) && session.subscriptions.size >= MAX_SUBSCRIPTIONS) {
        throw new McpError(ErrorCode.InvalidRequest, `A session may follow at most ${MAX_SUBSCRIPTIONS} resources`);
      }
      session.subscriptions.add(request.params.uri);
      return {};
    });
    server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
      session.subscriptions.delete(request.params.uri);
      return {};
    });
  }

  /** The pool by id; unknown here and in other organizations alike (isolation), answered as an invalid parameter. */
  private async pool(session: McpSession, poolId: string) {
    if (!isUuid(poolId)) throw new McpError(ErrorCode.InvalidParams, `No pool with id ${poolId.slice(0, 100)} in your organization`);
    try {
      return await this.pools.one(session.auth, poolId);
    } catch (err) {
      const error = asAppError(err);
      throw new McpError(error.code === 'NOT_FOUND' ? ErrorCode.InvalidParams : ErrorCode.InternalError, `${error.code}: ${error.message}`, {
        code: error.code,
      });
    }
  }

  private async json(uri: string, read: () => Promise<unknown>): Promise<ReadResourceResult> {
    try {
      return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(await read()) }] };
    } catch (err) {
      if (err instanceof McpError) throw err;
      const error = asAppError(err);
      throw new McpError(ErrorCode.InternalError, `${error.code}: ${error.message}`, { code: error.code });
    }
  }
}
