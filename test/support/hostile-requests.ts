import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { getNamedType, GraphQLField, GraphQLSchema, isNonNullType, isObjectType } from 'graphql';
import { selectionFor, walkOperations, WalkOperation, WalkValues } from './schema-walk';

/**
 * The hostile-request corpus: requests an outsider (or a tenant) could send to /graphql,
 * generated with fast-check from a fixed seed, out of the schema's own operations (from
 * schema-walk.ts) and mutations of them, so an operation added later is in the corpus
 * without editing it.
 */

export type KeyChoice = 'none' | 'bad' | 'ADMIN' | 'CLIENT' | 'VIEWER';
export const KEY_CHOICES: KeyChoice[] = ['none', 'bad', 'ADMIN', 'CLIENT', 'VIEWER'];

export interface HostileRequest {
  label: string;
  key: KeyChoice;
  method: string;
  /** Path and query string. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** The GraphQL document the request carries, when it carries one as text. */
  document?: string;
  /** The only codes this request may be answered with, when the contract names them. */
  expectCodes?: string[];
}

const JSON_TYPE = { 'content-type': 'application/json' };

function post(label: string, key: KeyChoice, payload: unknown, extra: Partial<HostileRequest> = {}): HostileRequest {
  const document =
    payload && typeof payload === 'object' && typeof (payload as { query?: unknown }).query === 'string' ? (payload as { query: string }).query : undefined;
  return { label, key, method: 'POST', path: '/graphql', headers: { ...JSON_TYPE }, body: Buffer.from(JSON.stringify(payload)), document, ...extra };
}

const keyChoice = fc.constantFrom(...KEY_CHOICES);

// ---- values -------------------------------------------------------------------------------

const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  '\u202e\u0000\ufeff',
  'null',
  'NaN',
  '-1',
  '1e309',
  '__proto__',
  'constructor',
  "'; DROP TABLE pools; --",
  '%s%s%s%n',
  '../../../../etc/passwd',
  '{"$gt":""}',
  '${jndi:ldap://127.0.0.1/a}',
  '<script>alert(1)</script>',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  `tp_${'A'.repeat(64)}`,
  '2020-02-30T25:61:61Z',
  '+275760-09-13T00:00:00.000Z',
];

const hugeString = fc
  .record({ unit: fc.constantFrom('x', 'é', '😀', '\u0000', '\u202e'), length: fc.integer({ min: 5_000, max: 200_000 }) })
  .map(({ unit, length }) => unit.repeat(length));

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: hugeString },
);

const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, -0, 1e308, 5e-324, 0.5, -1),
);

/** JSON nested `depth` levels deep, as arrays or objects. */
function nested(depth: number, asObject: boolean): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = asObject ? { a: value } : [value];
  return value;
}

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, true, false, [], {}) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 5 }) },
  // JSON nesting stops where JSON.stringify (here, under fast-check) runs out of stack; documents nest deeper below.
  {
    weight: 1,
    arbitrary: fc.record({ depth: fc.integer({ min: 10, max: 1_000 }), asObject: fc.boolean() }).map(({ depth, asObject }) => nested(depth, asObject)),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((n) => Array.from({ length: n }, (_, i) => i)) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }) },
);

// ---- variables of the real operations -------------------------------------------------------

type Path = (string | number)[];

function leafPaths(value: unknown, prefix: Path = []): Path[] {
  if (Array.isArray(value)) return value.length === 0 ? [prefix] : value.flatMap((v, i) => leafPaths(v, [...prefix, i]));
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    return entries.length === 0 ? [prefix] : entries.flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
  }
  return [prefix];
}

function replaced(value: unknown, path: Path, by: unknown): unknown {
  if (path.length === 0) return by;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? replaced(v, rest, by) : v));
  const record = value as Record<string, unknown>;
  return { ...record, [head]: replaced(record[head], rest, by) };
}

function everyString(value: unknown, by: unknown): unknown {
  if (typeof value === 'string') return by;
  if (Array.isArray(value)) return value.map((v) => everyString(v, by));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, everyString(v, by)]));
  return value;
}

const VARIABLE_MUTATIONS = ['replace', 'replace', 'replace', 'replace', 'every string', 'drop', 'extra', 'not an object'] as const;

/** A real operation with one of its variables (or all of them) made hostile. */
function variableCases(operations: WalkOperation[]): fc.Arbitrary<HostileRequest> {
  return fc
    .record({ op: fc.constantFrom(...operations), mutation: fc.constantFrom(...VARIABLE_MUTATIONS), pick: fc.nat(), value: hostileValue, key: keyChoice })
    .map(({ op, mutation, pick, value, key }) => {
      const paths = leafPaths(op.variables).filter((p) => p.length > 0);
      const names = Object.keys(op.variables);
      let variables: unknown = op.variables;
      let what: string = mutation;
      if (mutation === 'replace' && paths.length > 0) {
        const path = paths[pick % paths.length];
        variables = replaced(op.variables, path, value);
        what = `${path.join('.')} = ${describe(value)}`;
      } else if (mutation === 'every string') variables = everyString(op.variables, value);
      else if (mutation === 'drop' && names.length > 0)
        variables = Object.fromEntries(Object.entries(op.variables).filter(([k]) => k !== names[pick % names.length]));
      else if (mutation === 'extra') variables = { ...op.variables, [`extra${pick}`]: value };
      else if (mutation === 'not an object') variables = value;
      return post(`${op.rootType} ${op.field} with ${what}`, key, { query: op.query, variables });
    });
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 40)}... (${text.length} chars)` : text;
}

// ---- documents -----------------------------------------------------------------------------

/** `query { ...F0 } fragment F0 on Query { ...F1 ...F1 } ... fragment Fn on Query { __typename }`: 2^n paths in n+1 fragments. */
export function fanOut(n: number): string {
  const fragments = Array.from({ length: n }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
  return `query { ...F0 } ${fragments.join(' ')} fragment F${n} on Query { __typename }`;
}

function rootFieldsWithoutRequiredArgs(schema: GraphQLSchema): GraphQLField<unknown, unknown>[] {
  return Object.values(schema.getQueryType()!.getFields()).filter((f) => !f.args.some((a) => isNonNullType(a.type)));
}

function selectionOf(field: GraphQLField<unknown, unknown>, depth: number): string {
  const named = getNamedType(field.type);
  return isObjectType(named) ? `${field.name} { ${selectionFor(named, depth)} }` : field.name;
}

const DIRECTIVES = [
  '@skip(if: false)',
  '@include(if: true)',
  '@unknownDirective',
  '@deprecated',
  '@include(if: $nope)',
  '@skip(if: "yes")',
  '@specifiedBy(url: "x")',
];

function documentCases(schema: GraphQLSchema, operations: WalkOperation[], deepOperations: WalkOperation[]): fc.Arbitrary<HostileRequest> {
  const fields = rootFieldsWithoutRequiredArgs(schema);
  const field = fc.constantFrom(...fields);
  const op = fc.constantFrom(...operations);
  const withArgs = operations.filter((o) => o.query.includes('('));
  const doc = (label: string, document: fc.Arbitrary<string>, payload: (d: string) => Record<string, unknown> = (d) => ({ query: d })) =>
    fc.record({ document, key: keyChoice }).map(({ document: d, key }) => post(`${label} (${d.length} chars)`, key, payload(d)));
  return fc.oneof(
    doc('fragment fan-out', fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(18, 20, 21, 25, 30, 40)).map(fanOut)),
    doc(
      'many distinct fragments',
      fc
        .integer({ min: 50, max: 3_000 })
        .map(
          (n) =>
            `query { ${Array.from({ length: n }, (_, i) => `...G${i}`).join(' ')} } ${Array.from({ length: n }, (_, i) => `fragment G${i} on Query { __typename }`).join(' ')}`,
        ),
    ),
    doc(
      'aliases',
      fc
        .record({ f: field, n: fc.integer({ min: 2, max: 3_000 }) })
        .map(({ f, n }) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${selectionOf(f, 0)}`).join(' ')} }`),
    ),
    doc(
      'repeated root field',
      fc.record({ f: field, n: fc.integer({ min: 2, max: 3_000 }) }).map(({ f, n }) => `{ ${Array.from({ length: n }, () => selectionOf(f, 0)).join(' ')} }`),
    ),
    doc(
      'nested inline fragments',
      fc.integer({ min: 10, max: 5_000 }).map((n) => `{ ${'... on Query { '.repeat(n)}__typename${' }'.repeat(n)} }`),
    ),
    doc(
      'nested selection sets',
      fc.integer({ min: 10, max: 5_000 }).map((n) => `{ ${'me { '.repeat(n)}name${' }'.repeat(n)} }`),
    ),
    // Literals in place of the first argument's variable (left declared: the parser meets the literal first).
    doc(
      'nested list literal',
      fc
        .record({ o: fc.constantFrom(...withArgs), n: fc.integer({ min: 10, max: 5_000 }) })
        .map(({ o, n }) => o.query.replace(/: \$\w+/, `: ${'['.repeat(n)}1${']'.repeat(n)}`)),
    ),
    doc(
      'nested object literal',
      fc
        .record({ o: fc.constantFrom(...withArgs), n: fc.integer({ min: 10, max: 5_000 }) })
        .map(({ o, n }) => o.query.replace(/: \$\w+/, `: ${'{ a: '.repeat(n)}1${' }'.repeat(n)}`)),
    ),
    doc(
      'directives',
      fc
        .record({ f: field, d: fc.constantFrom(...DIRECTIVES), n: fc.integer({ min: 1, max: 3_000 }) })
        .map(({ f, d, n }) => `query { ${f.name} ${Array(n).fill(d).join(' ')} ${selectionOf(f, 0).slice(f.name.length)} }`),
    ),
    fc
      .record({ o: fc.constantFrom(...deepOperations), key: keyChoice })
      .map(({ o, key }) => post(`${o.field} selected five levels deep`, key, { query: o.query, variables: o.variables })),
    doc(
      'truncated operation',
      fc.record({ o: op, at: fc.nat() }).map(({ o, at }) => o.query.slice(0, at % o.query.length)),
    ),
    doc('garbage', fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 300 }))),
    doc(
      'unknown fields',
      fc.record({ f: field, name: fc.stringMatching(/^[a-z_][a-zA-Z0-9_]{0,30}$/) }).map(({ f, name }) => `{ ${f.name}${name} { ${name} } }`),
    ),
    doc(
      'many variables',
      fc.integer({ min: 100, max: 3_000 }).map((n) => `query(${Array.from({ length: n }, (_, i) => `$v${i}: Int = ${i}`).join(', ')}) { __typename }`),
    ),
    doc(
      'huge literals',
      fc
        .record({ o: fc.constantFrom(...withArgs), n: fc.integer({ min: 100, max: 200_000 }), kind: fc.constantFrom('int', 'float', 'string', 'block') })
        .map(({ o, n, kind }) => {
          const literal =
            kind === 'int'
              ? '9'.repeat(n)
              : kind === 'float'
                ? `1.${'0'.repeat(n)}e99999`
                : kind === 'string'
                  ? `"${'x'.repeat(n)}"`
                  : `"""${'y'.repeat(n)}"""`;
          return o.query.replace(/: \$\w+/, `: ${literal}`);
        }),
    ),
    doc(
      'introspection',
      fc.constantFrom(
        '{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }',
        '{ __schema { types { name fields { name args { name type { name ofType { name ofType { name ofType { name } } } } } } } } }',
        '{ __type(name: "Query") { fields { type { fields { type { fields { type { name } } } } } } } }',
        `{ ${Array.from({ length: 200 }, (_, i) => `s${i}: __schema { types { name } }`).join(' ')} }`,
      ),
    ),
    fc
      .record({ a: op, b: op, name: fc.constantFrom<unknown>(undefined, 'First', 'Second', 'Nope', '', 5, null, ['First']), key: keyChoice })
      .map(({ a, b, name, key }) => {
        const document = `${a.query.replace(' Walk', ' First')} ${b.query.replace(' Walk', ' Second')}`;
        return post(`two operations, operationName ${JSON.stringify(name)}`, key, {
          query: document,
          variables: { ...b.variables, ...a.variables },
          operationName: name,
        });
      }),
  );
}

// ---- transport -----------------------------------------------------------------------------

function transportCases(operations: WalkOperation[]): fc.Arbitrary<HostileRequest> {
  const op = fc.constantFrom(...operations);
  const body = (o: WalkOperation) => JSON.stringify({ query: o.query, variables: o.variables });
  const raw = (label: string, key: KeyChoice, headers: Record<string, string>, content: Buffer | string, document?: string): HostileRequest => ({
    label,
    key,
    method: 'POST',
    path: '/graphql',
    headers,
    body: Buffer.isBuffer(content) ? content : Buffer.from(content),
    document,
  });
  return fc.oneof(
    fc.record({ ops: fc.array(op, { minLength: 0, maxLength: 50 }), key: keyChoice }).map(({ ops, key }) =>
      post(
        `batched array of ${ops.length}`,
        key,
        ops.map((o) => ({ query: o.query, variables: o.variables })),
      ),
    ),
    fc
      .record({
        o: op,
        type: fc.constantFrom(
          'text/plain',
          'application/graphql',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
          'application/json; charset=utf-16',
          'application/json; charset=latin1',
          '',
          'application/json, text/plain',
          'APPLICATION/JSON',
        ),
        key: keyChoice,
      })
      .map(({ o, type, key }) => raw(`content-type "${type}"`, key, type ? { 'content-type': type } : {}, body(o), o.query)),
    fc.record({ o: op, at: fc.nat(), key: keyChoice }).map(({ o, at, key }) => {
      const full = body(o);
      return raw(`truncated JSON at ${at % full.length} of ${full.length}`, key, JSON_TYPE, full.slice(0, at % full.length));
    }),
    fc
      .record({
        payload: fc.constantFrom<unknown>(
          42,
          'x',
          null,
          true,
          [],
          {},
          { query: 42 },
          { query: {} },
          { query: [] },
          { query: null },
          { query: '{ __typename }', variables: 'x' },
          { query: '{ __typename }', variables: [1] },
          { query: '{ __typename }', extensions: 'x' },
        ),
        key: keyChoice,
      })
      .map(({ payload, key }) => post(`JSON body ${JSON.stringify(payload)}`, key, payload)),
    fc.record({ o: op, ast: fc.boolean(), key: keyChoice }).map(({ o, ast, key }) => {
      // Mercurius falls back to JSON.parse when a query does not parse: send an AST as the query text.
      const query = ast
        ? JSON.stringify({
            kind: 'Document',
            definitions: [
              {
                kind: 'OperationDefinition',
                operation: 'query',
                selectionSet: { kind: 'SelectionSet', selections: [{ kind: 'Field', name: { kind: 'Name', value: {} } }] },
              },
            ],
          })
        : JSON.stringify(o.query);
      return post(`query text that is JSON (${ast ? 'a malformed AST' : 'a JSON string'})`, key, { query });
    }),
    fc
      .record({ o: op, encoding: fc.constantFrom('gzip', 'deflate', 'br', 'x-unknown', 'gzip, gzip', 'identity'), bad: fc.boolean(), key: keyChoice })
      .map(({ o, encoding, bad, key }) => {
        const zipped = gzipSync(Buffer.from(body(o)));
        const content = bad ? Buffer.concat([zipped.subarray(0, zipped.length >> 1), Buffer.from('not gzip')]) : zipped;
        return raw(`content-encoding ${encoding}, ${bad ? 'bad' : 'real'} gzip body`, key, { ...JSON_TYPE, 'content-encoding': encoding }, content, o.query);
      }),
    fc
      .record({ o: op, variablesText: fc.constantFrom<string | undefined>(undefined, '{', '[]', '"x"', 'null'), key: keyChoice })
      .map(({ o, variablesText, key }) => {
        const params = new URLSearchParams({ query: o.query });
        params.set('variables', variablesText ?? JSON.stringify(o.variables));
        return {
          label: `GET ${o.rootType} ${o.field}, variables ${variablesText ?? 'as meant'}`,
          key,
          method: 'GET',
          path: `/graphql?${params}`,
          headers: {},
          document: o.query,
        };
      }),
    fc
      .record({ params: fc.constantFrom('', '?', '?query=', '?variables={}', '?operationName=x', '?query=%7B', '?query[]=a&query[]=b'), key: keyChoice })
      .map(({ params, key }) => ({ label: `GET /graphql${params}`, key, method: 'GET', path: `/graphql${params}`, headers: {} })),
    fc
      .record({ o: op, size: fc.constantFrom(900_000, 2_000_000) })
      .chain(({ o, size }) =>
        keyChoice.map((key) => post(`variables of ${size} bytes`, key, { query: o.query, variables: { ...o.variables, padding: 'p'.repeat(size) } })),
      ),
    fc.record({ o: op, upgrade: fc.constantFrom('x', 'websocket', 'h2c'), connection: fc.boolean() }).map(({ o, upgrade, connection }) => ({
      ...raw(
        `POST with Upgrade: ${upgrade}${connection ? ', Connection: upgrade' : ''} and no key`,
        'none',
        { ...JSON_TYPE, upgrade, ...(connection ? { connection: 'upgrade' } : {}) },
        body(o),
        o.query,
      ),
      // With no key, whatever the Upgrade header says, a POST is refused before any GraphQL work;
      // one Node takes for an upgrade (Connection: upgrade) may be refused as a bad request instead.
      expectCodes: connection ? ['UNAUTHENTICATED', 'BAD_REQUEST'] : ['UNAUTHENTICATED'],
    })),
    fc
      .record({
        o: op,
        authorization: fc.constantFrom(
          'Bearer',
          'Bearer ',
          'Basic dXNlcjpwYXNz',
          'bearer tp_x',
          `Bearer tp_${'a'.repeat(8_000)}`,
          'Bearer \u00e9\u00e9',
          'Bearer tp_a, Bearer tp_b',
          'Token x',
        ),
      })
      .map(({ o, authorization }) => raw(`authorization "${authorization.slice(0, 30)}"`, 'none', { ...JSON_TYPE, authorization }, body(o), o.query)),
    fc.record({ method: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS'), key: keyChoice }).map(({ method, key }) => ({
      label: `${method} /graphql`,
      key,
      method,
      path: '/graphql',
      headers: { ...JSON_TYPE },
      body: Buffer.from('{"query":"{ __typename }"}'),
    })),
  );
}

/** A document nested `levels` fields deep, as the JSON of its syntax tree (built as text: too deep for JSON.stringify). */
function deepAstText(levels: number): string {
  const field = '{"kind":"Field","name":{"kind":"Name","value":"me"},"selectionSet":{"kind":"SelectionSet","selections":[';
  const selections = `${field.repeat(levels)}{"kind":"Field","name":{"kind":"Name","value":"name"}}${']}}'.repeat(levels)}`;
  return `{"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","selectionSet":{"kind":"SelectionSet","selections":[${selections}]}}]}`;
}

/** The named cases, in every corpus whatever the seed draws, with a key that gets past authentication. */
function essentials(operations: WalkOperation[]): HostileRequest[] {
  const typename = Buffer.from('{"query":"{ __typename }"}');
  const raw = (label: string, headers: Record<string, string>, body: Buffer, expectCodes?: string[]): HostileRequest => ({
    label,
    key: 'none',
    method: 'POST',
    path: '/graphql',
    headers,
    body,
    expectCodes,
  });
  const subscription = operations.find((o) => o.rootType === 'Subscription');
  const mutation = operations.find((o) => o.rootType === 'Mutation')!;
  const zipped = gzipSync(typename);
  return [
    raw('POST with Upgrade: x and no key', { ...JSON_TYPE, upgrade: 'x' }, typename, ['UNAUTHENTICATED']),
    raw('POST with Upgrade: x, Connection: upgrade and no key', { ...JSON_TYPE, upgrade: 'x', connection: 'upgrade' }, typename, [
      'UNAUTHENTICATED',
      'BAD_REQUEST',
    ]),
    post('query is a number', 'ADMIN', { query: 42 }),
    post('no query', 'ADMIN', {}),
    post('query text "42"', 'ADMIN', { query: '42' }),
    post('query text holding the JSON of a syntax tree', 'ADMIN', {
      query:
        '{"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}}]}}]}',
    }),
    post('query text holding a malformed syntax tree', 'ADMIN', {
      query:
        '{"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":{}}}]}}]}',
    }),
    post('query text holding a syntax tree 4,000 fields deep', 'ADMIN', { query: deepAstText(4_000) }),
    { label: 'GET /graphql without a query', key: 'ADMIN', method: 'GET', path: '/graphql', headers: {} },
    {
      label: 'GET with a mutation',
      key: 'ADMIN',
      method: 'GET',
      path: `/graphql?${new URLSearchParams({ query: mutation.query, variables: JSON.stringify(mutation.variables) })}`,
      headers: {},
      document: mutation.query,
    },
    ...(subscription ? [post('a subscription over HTTP POST', 'ADMIN', { query: subscription.query, variables: subscription.variables })] : []),
    post('two operations and no operationName', 'ADMIN', { query: 'query A { __typename } query B { __typename }' }),
    post('a batched array', 'ADMIN', [{ query: '{ __typename }' }, { query: '{ __typename }' }]),
    { ...raw('a gzip body', { ...JSON_TYPE, 'content-encoding': 'gzip' }, zipped), key: 'ADMIN' },
    { ...raw('a bad gzip body', { ...JSON_TYPE, 'content-encoding': 'gzip' }, Buffer.concat([zipped.subarray(0, 10), Buffer.from('garbage')])), key: 'ADMIN' },
    { ...raw('truncated JSON', JSON_TYPE, Buffer.from('{"query":"{ __type')), key: 'ADMIN' },
    post('variables of 2 MB', 'ADMIN', { query: '{ __typename }', variables: { padding: 'p'.repeat(2_000_000) } }),
  ];
}

/**
 * The corpus: `size` requests drawn with `seed` from three families (mutated variables of
 * the real operations, hostile documents built over the schema, hostile transport), plus
 * the named cases and the fragment fan-out at every n from 1 to 40, sent with each
 * kind of key in turn.
 */
export function hostileCorpus(schema: GraphQLSchema, values: WalkValues, options: { seed: number; size: number }): HostileRequest[] {
  const operations = walkOperations(schema, values);
  const deep = walkOperations(schema, values, { depth: 5 });
  const family = fc.oneof(
    { weight: 4, arbitrary: variableCases(operations) },
    { weight: 4, arbitrary: documentCases(schema, operations, deep) },
    { weight: 2, arbitrary: transportCases(operations) },
  );
  const drawn = fc.sample(family, { seed: options.seed, numRuns: options.size });
  const fans = Array.from({ length: 40 }, (_, i) => post(`fragment fan-out n=${i + 1}`, KEY_CHOICES[i % KEY_CHOICES.length], { query: fanOut(i + 1) }));
  return [...essentials(operations), ...drawn, ...fans];
}
