import { buildSchema, parse, specifiedRules, validate, visit } from 'graphql';
import { documentShape } from './document-shape';
import { estimateCost } from './query-cost';
import { assertCost, maxAliasesRule, maxDepthRule, maxRootFieldsRule } from './query-limits';

/** `query { ...F0 } fragment F0 on Query { ...F1 ...F1 } ... fragment Fn on Query { a }`: 2^n paths in n+2 definitions. */
function fanOut(levels: number, leaf = 'a'): string {
  const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
  return `query { ...F0 } ${fragments.join(' ')} fragment F${levels} on Query { ${leaf} }`;
}

function selectionCount(query: string): number {
  let selections = 0;
  visit(parse(query), { Field: () => void (selections += 1), FragmentSpread: () => void (selections += 1), InlineFragment: () => void (selections += 1) });
  return selections;
}

const schema = buildSchema(`
  type Node { id: ID! child: Node children(first: Int): [Node!]! tags: [String!]! }
  type Query { node: Node nodes(first: Int): [Node!]! a: Int b: Int c: Int }
`);

function codes(query: string, rules = [maxDepthRule(3), maxAliasesRule(2), maxRootFieldsRule(2)]): string[] {
  return validate(schema, parse(query), [...specifiedRules, ...rules]).map((e) => String(e.extensions.code ?? 'VALIDATION'));
}

describe('query limits', () => {
  it('accepts an operation at the depth limit', () => {
    expect(codes('{ node { child { id } } }')).toEqual([]);
  });

  it('refuses an operation one level past the depth limit', () => {
    expect(codes('{ node { child { child { id } } } }')).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('follows fragments when measuring depth', () => {
    expect(codes('fragment F on Node { child { child { id } } } { node { ...F } }')).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('refuses more aliases than allowed', () => {
    expect(codes('{ node { x: id y: id z: id } }')).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('counts root fields inside inline fragments', () => {
    expect(codes('{ a ... on Query { b c } }')).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('ignores introspection fields in depth and root counts', () => {
    expect(codes('{ a __typename }')).toEqual([]);
  });

  it('multiplies list children by first', () => {
    const document = parse('{ nodes(first: 10) { id child { id } } }');
    expect(assertCost({ schema, document, max: 1000 })).toBe(1 + 10 * (1 + 2));
  });

  it('reads first from variables', () => {
    const document = parse('query($n: Int) { nodes(first: $n) { id } }');
    expect(assertCost({ schema, document, variables: { n: 40 }, max: 1000 })).toBe(1 + 40);
  });

  it('estimates without coercing the items of list variables', () => {
    const withInput = buildSchema(`
      input Item { n: Int! }
      type Result { count: Int! }
      type Query { a: Int }
      type Mutation { put(items: [Item!]!, first: Int): [Result!]! }
    `);
    const document = parse('mutation($items: [Item!]!, $n: Int) { put(items: $items, first: $n) { count } }');
    // Items the execution would refuse do not reach the estimate; first still counts.
    expect(assertCost({ schema: withInput, document, variables: { items: [{ n: 'not a number' }], n: 7 }, max: 1000 })).toBe(1 + 7);
  });

  it('re-estimates a reused document when its page size changes, and when a directive variable does', () => {
    const document = parse(
      'query($n: Int, $deep: Boolean!, $id: ID) { nodes(first: $n) { id child @include(if: $deep) { id } } node { id } a @skip(if: $deep) }',
    );
    // nodes: 1 + n × (id 1 + child 2 when included); node { id }: 2; a: 1 unless skipped.
    expect(assertCost({ schema, document, variables: { n: 5, deep: false, id: 'x' }, max: 1000 })).toBe(1 + 5 * 1 + 2 + 1);
    expect(assertCost({ schema, document, variables: { n: 50, deep: false, id: 'y' }, max: 1000 })).toBe(1 + 50 * 1 + 2 + 1);
    expect(assertCost({ schema, document, variables: { n: 5, deep: true, id: 'z' }, max: 1000 })).toBe(1 + 5 * 3 + 2);
    // A cached estimate is still checked against the limit of the call.
    expect(() => assertCost({ schema, document, variables: { n: 50, deep: false, id: 'w' }, max: 10 })).toThrow(
      expect.objectContaining({ extensions: { code: 'QUERY_TOO_COMPLEX' } }),
    );
  });

  it('throws QUERY_TOO_COMPLEX above the cost limit', () => {
    const document = parse('{ nodes(first: 100) { children(first: 100) { id } } }');
    expect(() => assertCost({ schema, document, max: 5000 })).toThrow(expect.objectContaining({ extensions: { code: 'QUERY_TOO_COMPLEX' } }));
  });

  it('measures a fragment fan-out once per fragment, not once per path', () => {
    const query = fanOut(40);
    const shape = documentShape(parse(query));
    expect(shape).toEqual({ depth: 1, aliases: 0, rootFields: 1, visits: expect.any(Number) });
    // Depth and root fields each look at every written selection once.
    expect(shape.visits).toBeLessThanOrEqual(2 * selectionCount(query));
  });

  it('costs a fragment fan-out by its paths, in work linear in the document', () => {
    const query = fanOut(40);
    const { cost, visits } = estimateCost({ schema, document: parse(query) });
    expect(cost).toBe(2 ** 40);
    expect(visits).toBeLessThanOrEqual(selectionCount(query));
  });

  it('refuses a fan-out above the cost limit with QUERY_TOO_COMPLEX', () => {
    expect(() => assertCost({ schema, document: parse(fanOut(30)), max: 5000 })).toThrow(
      expect.objectContaining({ extensions: { code: 'QUERY_TOO_COMPLEX' } }),
    );
  });

  it('validates a 40-level fan-out with the standard rules and the limits', () => {
    expect(codes(fanOut(40))).toEqual([]);
    expect(codes(fanOut(40, 'node { child { child { id } } }'))).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('counts root fields as execution merges them: repeated fields once, aliases apart', () => {
    expect(codes('{ a a a }')).toEqual([]);
    expect(codes('{ a b ...on Query { a b } }')).toEqual([]);
    expect(codes('{ a b c }')).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('costs the most expensive operation when no operation name is given', () => {
    const document = parse('query A { a } query B { nodes(first: 20) { id } }');
    expect(estimateCost({ schema, document }).cost).toBe(21);
    expect(estimateCost({ schema, document, operationName: 'A' }).cost).toBe(1);
  });

  it('assumes the given page size for a `first` variable whose value is unknown', () => {
    const document = parse('subscription($n: Int) { nodes(first: $n) { id } }');
    const withSubscription = buildSchema(`
      type Node { id: ID! }
      type Query { a: Int }
      type Subscription { nodes(first: Int): [Node!]! }
    `);
    expect(estimateCost({ schema: withSubscription, document, unknownFirst: 100 }).cost).toBe(101);
  });
});
