import { GraphqlSourceCheck, MAX_SOURCE_NESTING } from './source-limits';

function codeOf(check: GraphqlSourceCheck, source: unknown): string | undefined {
  try {
    check.assert(source);
    return undefined;
  } catch (err) {
    return String((err as { extensions: { code: string } }).extensions.code);
  }
}

describe('GraphQL source check', () => {
  const check = new GraphqlSourceCheck(1000);

  it('accepts an ordinary document', () => {
    expect(codeOf(check, 'query($p: ID!) { pool(id: $p) { id apps { key } } }')).toBeUndefined();
  });

  it('refuses nesting past the bound with QUERY_TOO_COMPLEX before the parser overflows its stack', () => {
    const deep = '{' + 'a{'.repeat(5000) + 'b' + '}'.repeat(5000) + '}';
    expect(codeOf(new GraphqlSourceCheck(1_000_000), deep)).toBe('QUERY_TOO_COMPLEX');
    const lists = `{ a(x: ${'['.repeat(MAX_SOURCE_NESTING)}1${']'.repeat(MAX_SOURCE_NESTING)}) }`;
    expect(codeOf(check, lists)).toBe('QUERY_TOO_COMPLEX');
  });

  it('does not count brackets inside strings, block strings and comments', () => {
    const brackets = '{'.repeat(MAX_SOURCE_NESTING + 1);
    expect(codeOf(check, `{ a(x: "${brackets}", y: """${brackets} \\""" ${brackets}""") # ${brackets}\n }`)).toBeUndefined();
  });

  it('refuses more tokens than allowed with QUERY_TOO_COMPLEX', () => {
    expect(codeOf(check, `{ ${'a '.repeat(1200)} }`)).toBe('QUERY_TOO_COMPLEX');
  });

  it('refuses a JSON syntax tree, which Mercurius would otherwise execute, with GRAPHQL_VALIDATION_FAILED', () => {
    expect(codeOf(check, JSON.stringify({ kind: 'Document', definitions: [{ kind: 'OperationDefinition' }] }))).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(codeOf(check, 'null')).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(codeOf(check, { kind: 'Document', definitions: [] })).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('keeps the location of a syntax error', () => {
    expect(() => check.assert('{ a(')).toThrow(
      expect.objectContaining({ message: expect.stringContaining('Syntax Error'), locations: [{ line: 1, column: 5 }] }),
    );
  });
});
