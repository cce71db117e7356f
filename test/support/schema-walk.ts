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
 * Builds, from the schema alone, one operation per root field with every argument filled:
 * ids with a given foreign id, other values with harmless defaults. The isolation test
 * walks these, so a new query or mutation is covered the moment it is in the schema.
 */

function scalarDefault(typeName: string, name: string, foreignId: string): unknown {
  switch (typeName) {
    case 'ID':
      return foreignId;
    case 'Int':
      return 1;
    case 'Float':
      return 1;
    case 'Boolean':
      return true;
    case 'DateTime':
      return name === 'to' ? '2029-01-01T00:00:00.000Z' : name === 'expiresAt' ? '2099-01-01T00:00:00.000Z' : '2020-01-01T00:00:00.000Z';
    default:
      // Strings that name something by id (an `after` cursor, an app key) get the foreign id too.
      return /id$|^after$|^proof$/i.test(name) ? foreignId : `walk-${name}`;
  }
}

function valueFor(type: GraphQLInputType, name: string, foreignId: string): unknown {
  if (isNonNullType(type)) return valueFor(type.ofType, name, foreignId);
  if (isListType(type)) return [valueFor(type.ofType, name, foreignId)];
  if (isEnumType(type)) return type.getValues()[0].value;
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()) as GraphQLInputField[];
    return Object.fromEntries(fields.map((f) => [f.name, valueFor(f.type, f.name, foreignId)]));
  }
  if (isScalarType(type)) return scalarDefault(type.name, name, foreignId);
  return null;
}

function selectionFor(type: GraphQLNamedType, depth: number): string {
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

export interface WalkOperation {
  rootType: 'Query' | 'Mutation';
  field: string;
  takesIds: boolean;
  query: string;
  variables: Record<string, unknown>;
}

function mentionsId(type: GraphQLInputType, name: string, seen = new Set<string>()): boolean {
  const named = getNamedType(type);
  if (isScalarType(named)) return named.name === 'ID' || /id$|^after$|^proof$/i.test(name);
  if (isInputObjectType(named) && !seen.has(named.name)) {
    seen.add(named.name);
    return Object.values(named.getFields()).some((f) => mentionsId(f.type, f.name, seen));
  }
  return false;
}

export function walkOperations(schema: GraphQLSchema, foreignId: string): WalkOperation[] {
  const operations: WalkOperation[] = [];
  for (const rootType of ['Query', 'Mutation'] as const) {
    const root = rootType === 'Query' ? schema.getQueryType() : schema.getMutationType();
    if (!root) continue;
    for (const field of Object.values(root.getFields()) as GraphQLField<unknown, unknown>[]) {
      const variables = Object.fromEntries(field.args.map((a) => [a.name, valueFor(a.type, a.name, foreignId)]));
      const declared = field.args.map((a) => `$${a.name}: ${typeString(a)}`).join(', ');
      const passed = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
      const selection = selectionFor(getNamedType(field.type), 1);
      const keyword = rootType === 'Query' ? 'query' : 'mutation';
      const query = `${keyword} Walk${declared ? `(${declared})` : ''} { ${field.name}${passed ? `(${passed})` : ''}${selection ? ` { ${selection} }` : ''} }`;
      operations.push({ rootType, field: field.name, takesIds: field.args.some((a) => mentionsId(a.type, a.name)), query, variables });
    }
  }
  return operations;
}
