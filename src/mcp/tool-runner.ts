import { Logger } from '@nestjs/common';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AppError } from '../common/errors/app-error';
import type { Role } from '../auth/role';
import type { McpMetrics } from './mcp-metrics';
import type { McpSession } from './mcp-session';
import { asAppError, refusalResult, toolResult, ToolAnswer } from './tool-result';

const logger = new Logger('McpTools');

/** What every tool handler gets beside its arguments: the SDK's request context (its abort signal). */
export interface ToolExtra {
  signal: AbortSignal;
}

/** Roles as the GraphQL resolvers of the same operations grant them. */
export const WRITERS: Role[] = ['ADMIN', 'CLIENT'];
export const READERS: Role[] = ['ADMIN', 'CLIENT', 'VIEWER'];

/**
 * Wraps a tool's work: the key's role is checked as the GraphQL guard would, a refusal becomes
 * an isError result (never a protocol error), an unexpected fault is logged and answered
 * INTERNAL_SERVER_ERROR without detail, and each call is counted by outcome.
 */
export function runTool<A>(
  session: McpSession,
  metrics: McpMetrics,
  tool: string,
  roles: Role[],
  work: (args: A, extra: ToolExtra) => Promise<ToolAnswer>,
): (args: A, extra: ToolExtra) => Promise<CallToolResult> {
  return async (args, extra) => {
    try {
      const role = session.auth.role;
      if (!roles.includes(role)) throw new AppError('FORBIDDEN', `A ${role} key may not use ${tool}; it needs one of: ${roles.join(', ')}`);
      const answer = await work(args, extra);
      metrics.toolCalls.inc({ tool, outcome: 'ok' });
      return toolResult(answer);
    } catch (err) {
      const error = asAppError(err);
      if (error.code === 'INTERNAL_SERVER_ERROR') logger.error({ err, tool, session: session.id }, `Unexpected fault in MCP tool ${tool}`);
      metrics.toolCalls.inc({ tool, outcome: error.code });
      return refusalResult(error);
    }
  };
}
