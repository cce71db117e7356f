import {
  getNamedType,
  GraphQLArgument,
  GraphQLField,
  GraphQLInputField,
  GraphQLInputType,
  GraphQLNamedType,
  GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
} from 'graphql';

/**
 * Builds, from the schema alone, one operation per root field (queries, mutations and
 * subscriptions) with every argument filled: ids and strings from the caller's `WalkValues`,
 * other values with harmless defaults. The isolation test and the hostile corpus walk these,
 * so a new operation is covered the moment it is in the schema.
 */

/** Where a value goes: the root field asked for, the named type it returns, and the argument or input field. */
export interface ArgumentSite {
  field: string;
  returnType: string;
  name: string;
}

/** What the walk puts in ID arguments and in String arguments (undefined: leave the argument out). */
export interface WalkValues {
  id(site: ArgumentSite): string;
  text(site: ArgumentSite): string | undefined;
}

/** A String argument that names something by id (a cursor, a proof). */
function namesById(name: string): boolean {
  return /id$|^after$|^proof$/i.test(name);
}

/** Every id, and every string that names something by id, is `foreignId`; other strings are `walk-<name>`. */
export function foreignIdValues(foreignId: string): WalkValues {
  return { id: () => foreignId, text: ({ name }) => (namesById(name) ? foreignId : `walk-${name}`) };
}

const DAY_MS = 86_400_000;

/** A window the reports accept (at most 400 days, ending after now), an expiry far ahead, and a recent instant for the rest. */
function dateFor(name: string, now: number): string {
  if (name === 'from') return new Date(now - 30 * DAY_MS).toISOString();
  if (name === 'to') return new Date(now + DAY_MS).toISOString();
  if (name === 'expiresAt') return new Date(now + 365 * DAY_MS).toISOString();
  return new Date(now - 3_600_000).toISOString();
}

interface Fill {
  site: Omit<ArgumentSite, 'name'>;
  values: WalkValues;
  now: number;
}

function scalarValue(typeName: string, name: string, fill: Fill): unknown {
  const site = { ...fill.site, name };
  switch (typeName) {
    case 'ID':
      return fill.values.id(site);
    case 'Int':
      // A page of 20 shows every row the walk's organizations hold, under the cost limit; a
      // check-out never waits; lengths of time are a minute (a lease is 5 seconds at least).
      if (name === 'first') return 20;
      if (name === 'waitSeconds') return 0;
      return /Seconds$/.test(name) ? 60 : 1;
    case 'Float':
      // Within every share (0 to <1) and amount range.
      return 0.5;
    case 'Boolean':
      return true;
    case 'DateTime':
      return dateFor(name, fill.now);
    default:
      return fill.values.text(site);
  }
}

function valueFor(type: GraphQLInputType, name: string, fill: Fill): unknown {
  if (isNonNullType(type)) return valueFor(type.ofType, name, fill);
  if (isListType(type)) return [valueFor(type.ofType, name, fill)];
  if (isEnumType(type)) return type.getValues()[0].value;
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()) as GraphQLInputField[];
    return Object.fromEntries(fields.map((f) => [f.name, valueFor(f.type, f.name, fill)]));
  }
  if (isScalarType(type)) return scalarValue(type.name, name, fill);
  return null;
}

/** Every field without required arguments, `depth` object levels down; below that, objects show their id. */
export function selectionFor(type: GraphQLNamedType, depth: number): string {
  if (!isObjectType(type)) return '';
  const parts: string[] = [];
  for (const field of Object.values(type.getFields())) {
    if (field.args.some((a) => isNonNullType(a.type))) continue;
    const named = getNamedType(field.type);
    if (isObjectType(named)) {
      if (depth > 0) {
        const inner = selectionFor(named, depth - 1);
        if (inner) parts.push(`${field.name} { ${inner} }`);
      } else if ('id' in named.getFields()) parts.push(`${field.name} { id }`);
    } else parts.push(field.name);
  }
  return parts.join(' ');
}

function typeString(arg: GraphQLArgument): string {
  return arg.type.toString();
}

export type RootType = 'Query' | 'Mutation' | 'Subscription';

export interface WalkOperation {
  rootType: RootType;
  field: string;
  /** Some argument (or input field) is an ID or a string that names something by id. */
  takesIds: boolean;
  /** Some argument (or input field) is a String. */
  takesText: boolean;
  query: string;
  variables: Record<string, unknown>;
}

/** Whether a scalar somewhere in the argument's type satisfies `test`. */
function hasScalar(type: GraphQLInputType, name: string, test: (scalar: string, name: string) => boolean, seen = new Set<string>()): boolean {
  const named = getNamedType(type);
  if (isScalarType(named)) return test(named.name, name);
  if (isInputObjectType(named) && !seen.has(named.name)) {
    seen.add(named.name);
    return Object.values(named.getFields()).some((f) => hasScalar(f.type, f.name, test, seen));
  }
  return false;
}

const ROOTS: { rootType: RootType; keyword: string; of: (schema: GraphQLSchema) => ReturnType<GraphQLSchema['getQueryType']> }[] = [
  { rootType: 'Query', keyword: 'query', of: (s) => s.getQueryType() },
  { rootType: 'Mutation', keyword: 'mutation', of: (s) => s.getMutationType() },
  { rootType: 'Subscription', keyword: 'subscription', of: (s) => s.getSubscriptionType() },
];

/**
 * One operation per root field. `values` fills ids and strings (a plain string: that foreign
 * id everywhere, see foreignIdValues); `depth` is how many object levels the selection opens.
 */
export function walkOperations(schema: GraphQLSchema, values: string | WalkValues, options: { depth?: number } = {}): WalkOperation[] {
  const fillWith = typeof values === 'string' ? foreignIdValues(values) : values;
  const now = Date.now();
  const operations: WalkOperation[] = [];
  for (const { rootType, keyword, of } of ROOTS) {
    const root = of(schema);
    if (!root) continue;
    for (const field of Object.values(root.getFields()) as GraphQLField<unknown, unknown>[]) {
      const returnType = getNamedType(field.type);
      const fill: Fill = { site: { field: field.name, returnType: returnType.name }, values: fillWith, now };
      const variables = Object.fromEntries(field.args.map((a) => [a.name, valueFor(a.type, a.name, fill)]));
      const declared = field.args.map((a) => `$${a.name}: ${typeString(a)}`).join(', ');
      const passed = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
      const selection = selectionFor(returnType, options.depth ?? 1);
      const query = `${keyword} Walk${declared ? `(${declared})` : ''} { ${field.name}${passed ? `(${passed})` : ''}${selection ? ` { ${selection} }` : ''} }`;
      operations.push({
        rootType,
        field: field.name,
        takesIds: field.args.some((a) => hasScalar(a.type, a.name, (scalar, name) => scalar === 'ID' || namesById(name))),
        takesText: field.args.some((a) => hasScalar(a.type, a.name, (scalar) => scalar === 'String')),
        query,
        variables,
      });
    }
  }
  return operations;
}
