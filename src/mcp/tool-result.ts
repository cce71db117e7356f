import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AppError } from '../common/errors/app-error';
import { isDependencyDown } from '../common/errors/dependency-errors';

/** What a tool answers: a JSON object, given to the model twice (as text it reads, and as structured content). */
export type ToolAnswer = Record<string, unknown>;

/** A tool's answer: the JSON as text for models that read text, and as structuredContent for those that read that. */
export function toolResult(answer: ToolAnswer): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(answer) }], structuredContent: answer };
}

/**
 * A refusal as a tool result, never a protocol error: the model sees `isError` with the
 * contract code and message, and `structuredContent` `{ code, available?, requested?,
 * retryAfterSeconds?, ... }` to decide what to do next (wait, pick another pool, give up).
 * A dependency that is down is UNAVAILABLE; anything unexpected is INTERNAL_SERVER_ERROR
 * with no detail (it is logged by the caller).
 */
export function refusalResult(err: unknown): CallToolResult {
  const error = asAppError(err);
  const structured: ToolAnswer = { code: error.code, message: error.message, ...error.extensions };
  return {
    isError: true,
    content: [{ type: 'text', text: `${error.code}: ${error.message}` }],
    structuredContent: structured,
  };
}

export function asAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (isDependencyDown(err)) return AppError.unavailable('A storage dependency is unreachable; retry shortly', 2);
  return new AppError('INTERNAL_SERVER_ERROR', 'Internal server error');
}
