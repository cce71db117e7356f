import { ASTVisitor, DocumentNode, GraphQLError, Kind, OperationDefinitionNode, ValidationContext, visit } from 'graphql';
import { countAliases, DocumentShapes } from './document-shape';
import { CostOptions, estimateCost } from './query-cost';

const code = 'QUERY_TOO_COMPLEX';

function tooComplex(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

/** One measurement per document, shared by the depth and root-field rules (fragments measured once). */
const shapes = new WeakMap<DocumentNode, DocumentShapes>();

function shapesOf(context: ValidationContext): DocumentShapes {
  const document = context.getDocument();
  let measured = shapes.get(document);
  if (!measured) shapes.set(document, (measured = new DocumentShapes(document)));
  return measured;
}

/** Refuses operations nested deeper than `max` fields (introspection fields aside). */
export function maxDepthRule(max: number) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node: OperationDefinitionNode) {
      const depth = shapesOf(context).depthOf(node);
      if (depth > max) context.reportError(tooComplex(`The operation is nested ${depth} levels deep; the limit is ${max}`));
    },
  });
}

/** Refuses documents with more than `max` aliased fields (alias amplification). Counted as written: each field node once. */
export function maxAliasesRule(max: number) {
  return (context: ValidationContext): ASTVisitor => ({
    Document(node) {
      const aliases = countAliases(node);
      if (aliases > max) context.reportError(tooComplex(`The document has ${aliases} aliases; the limit is ${max}`));
    },
  });
}

/** Refuses operations that ask for more than `max` root fields at once. */
export function maxRootFieldsRule(max: number) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node: OperationDefinitionNode) {
      const count = shapesOf(context).rootFieldsOf(node);
      if (count > max) context.reportError(tooComplex(`The operation asks for ${count} root fields; the limit is ${max}`));
    },
  });
}

/**
 * The operation's estimated cost; throws QUERY_TOO_COMPLEX above `max`. Run before
 * execution, with the variables, so `first: $n` counts.
 */
export function assertCost(options: CostOptions & { max: number }): number {
  const variables = options.variables ?? {};
  // Mercurius hands every run of a cached query the same document object, and only the
  // variables passed as `first` or to @skip/@include move the estimate: a client repeating an
  // operation pays for the estimate once per distinct page size, not on every call.
  let cached = costCache.get(options.document);
  if (!cached) costCache.set(options.document, (cached = { costVariables: costVariables(options.document), costs: new Map() }));
  const key = `${options.operationName ?? ''}\u0000${cached.costVariables.map((name) => String(variables[name])).join('\u0000')}`;
  let cost = cached.costs.get(key);
  if (cost === undefined) {
    cost = estimateCost({
      schema: options.schema,
      document: options.document,
      variables,
      operationName: options.operationName,
      unknownFirst: options.unknownFirst,
    }).cost;
    if (cached.costs.size >= COST_CACHE_PER_DOCUMENT) cached.costs.clear();
    cached.costs.set(key, cost);
  }
  if (cost > options.max) throw tooComplex(`The operation's estimated cost is ${cost}; the limit is ${options.max}`);
  return cost;
}

const costCache = new WeakMap<DocumentNode, { costVariables: string[]; costs: Map<string, number> }>();
const COST_CACHE_PER_DOCUMENT = 256;

/** The variables a document passes as `first` or to a directive (@skip, @include): the only ones the estimate reads. */
function costVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  visit(document, {
    Field(node) {
      for (const arg of node.arguments ?? []) if (arg.name.value === 'first' && arg.value.kind === Kind.VARIABLE) names.add(arg.value.name.value);
    },
    Directive(node) {
      for (const arg of node.arguments ?? []) if (arg.value.kind === Kind.VARIABLE) names.add(arg.value.name.value);
    },
  });
  return [...names].sort();
}
