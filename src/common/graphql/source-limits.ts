import { GraphQLError, parse } from 'graphql';
import { LRUCache } from 'lru-cache';

/**
 * Deepest bracket nesting ({, ( and [ together) a document may have. graphql-js parses
 * recursively and overflows the stack at a few thousand levels (a 10 KB document); the
 * depth limit refuses anything past GRAPHQL_MAX_DEPTH fields long before this.
 */
export const MAX_SOURCE_NESTING = 128;

const OPEN = new Set(['{', '(', '[']);
const CLOSE = new Set(['}', ')', ']']);

function refuse(code: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/**
 * Checks a GraphQL source before Mercurius parses it: bracket nesting within
 * MAX_SOURCE_NESTING, at most `maxTokens` tokens, and GraphQL syntax. Mercurius reads a
 * source that fails to parse as a JSON-encoded syntax tree and validates and executes
 * that object, whose hand-made shapes the validators were never written for; a source
 * refused here never gets that far. Sources that passed are remembered (by their text,
 * within a bounded size), so a client repeating an operation pays for one check.
 */
export class GraphqlSourceCheck {
  private readonly passed = new LRUCache<string, true>({ maxSize: 8 * 1024 * 1024, sizeCalculation: (_value, source) => Math.max(1, source.length) });

  constructor(private readonly maxTokens: number) {}

  assert(source: unknown): void {
    if (typeof source !== 'string') throw refuse('GRAPHQL_VALIDATION_FAILED', 'Send the document as GraphQL text in "query"');
    if (this.passed.has(source)) return;
    assertNesting(source);
    try {
      parse(source, { maxTokens: this.maxTokens, noLocation: true });
    } catch (err) {
      if (!(err instanceof GraphQLError)) throw refuse('QUERY_TOO_COMPLEX', 'The document is too large to parse');
      if (err.message.includes('tokens. Parsing aborted'))
        throw refuse('QUERY_TOO_COMPLEX', `The document has more than ${this.maxTokens} tokens (GRAPHQL_MAX_TOKENS)`);
      throw new GraphQLError(err.message, { source: err.source, positions: err.positions, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    }
    this.passed.set(source, true);
  }
}

/** One pass over the source, skipping strings and comments, counting open brackets. */
export function assertNesting(source: string): void {
  let depth = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '#') {
      while (i < source.length && source[i] !== '\n' && source[i] !== '\r') i++;
    } else if (c === '"') {
      i = endOfString(source, i);
    } else if (OPEN.has(c)) {
      depth += 1;
      if (depth > MAX_SOURCE_NESTING) throw refuse('QUERY_TOO_COMPLEX', `The document nests brackets more than ${MAX_SOURCE_NESTING} levels deep`);
    } else if (CLOSE.has(c)) {
      depth -= 1;
    }
  }
}

/** The index of the closing quote of the string (or block string) opening at `start`. */
function endOfString(source: string, start: number): number {
  if (source.startsWith('"""', start)) {
    for (let i = start + 3; i < source.length; i++) {
      if (source.startsWith('\\"""', i)) i += 3;
      else if (source.startsWith('"""', i)) return i + 2;
    }
    return source.length;
  }
  for (let i = start + 1; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === '"' || source[i] === '\n' || source[i] === '\r') return i;
  }
  return source.length;
}
