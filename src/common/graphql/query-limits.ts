import {
  ASTVisitor,
  FragmentDefinitionNode,
  getNamedType,
  getNullableType,
  GraphQLError,
  GraphQLSchema,
  isListType,
  OperationDefinitionNode,
  SelectionSetNode,
  ValidationContext,
  DocumentNode,
  Kind,
  visit,
} from 'graphql';
import { getComplexity, ComplexityEstimatorArgs } from 'graphql-query-complexity';

const code = 'QUERY_TOO_COMPLEX';

function tooComplex(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code } });
}

function depthOf(
  selectionSet: SelectionSetNode | undefined,
  fragments: Record<string, FragmentDefinitionNode>,
  seen: Set<string>,
): number {
  if (!selectionSet) return 0;
  let deepest = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === 'Field') {
      if (selection.name.value.startsWith('__')) continue;
      deepest = Math.max(deepest, 1 + depthOf(selection.selectionSet, fragments, seen));
    } else if (selection.kind === 'InlineFragment') {
      deepest = Math.max(deepest, depthOf(selection.selectionSet, fragments, seen));
    } else {
      const name = selection.name.value;
      const fragment = fragments[name];
      // A fragment cycle is reported by the standard NoFragmentCycles rule; stop here.
      if (!fragment || seen.has(name)) continue;
      deepest = Math.max(deepest, depthOf(fragment.selectionSet, fragments, new Set(seen).add(name)));
    }
  }
  return deepest;
}

function fragmentsOf(context: ValidationContext): Record<string, FragmentDefinitionNode> {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const definition of context.getDocument().definitions) {
    if (definition.kind === 'FragmentDefinition') fragments[definition.name.value] = definition;
  }
  return fragments;
}

/** Refuses operations nested deeper than `max` fields (introspection fields aside). */
export function maxDepthRule(max: number) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node: OperationDefinitionNode) {
      const depth = depthOf(node.selectionSet, fragmentsOf(context), new Set());
      if (depth > max) context.reportError(tooComplex(`The operation is nested ${depth} levels deep; the limit is ${max}`));
    },
  });
}

/** Refuses documents with more than `max` aliased fields (alias amplification). */
export function maxAliasesRule(max: number) {
  return (context: ValidationContext): ASTVisitor => {
    let aliases = 0;
    return {
      Field(node) {
        if (node.alias) aliases += 1;
      },
      Document: {
        leave() {
          if (aliases > max) context.reportError(tooComplex(`The document has ${aliases} aliases; the limit is ${max}`));
        },
      },
    };
  };
}

function rootFieldCount(selectionSet: SelectionSetNode, fragments: Record<string, FragmentDefinitionNode>, seen: Set<string>): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === 'Field') count += selection.name.value.startsWith('__') ? 0 : 1;
    else if (selection.kind === 'InlineFragment') count += rootFieldCount(selection.selectionSet, fragments, seen);
    else {
      const fragment = fragments[selection.name.value];
      if (fragment && !seen.has(selection.name.value)) count += rootFieldCount(fragment.selectionSet, fragments, new Set(seen).add(selection.name.value));
    }
  }
  return count;
}

/** Refuses operations that ask for more than `max` root fields at once. */
export function maxRootFieldsRule(max: number) {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(node: OperationDefinitionNode) {
      const count = rootFieldCount(node.selectionSet, fragmentsOf(context), new Set());
      if (count > max) context.reportError(tooComplex(`The operation asks for ${count} root fields; the limit is ${max}`));
    },
  });
}

// A list is assumed to hold this many items when its size is not bounded by `first`.
const DEFAULT_LIST_SIZE = 10;

/** Each field costs 1; a list multiplies its children by `first` (or a default size). */
function estimator({ args, childComplexity, field }: ComplexityEstimatorArgs): number {
  const type = getNullableType(field.type);
  if (!isListType(type)) return 1 + childComplexity;
  const first = typeof args.first === 'number' && args.first > 0 ? args.first : DEFAULT_LIST_SIZE;
  const leaf = getNamedType(type) === type.ofType;
  return 1 + (leaf ? 1 : childComplexity * first);
}

/**
 * The operation's estimated cost; throws QUERY_TOO_COMPLEX above `max`. Run before
 * execution, with the variables, so `first: $n` counts.
 */
export function assertCost(options: { schema: GraphQLSchema; document: DocumentNode; variables?: Record<string, unknown>; operationName?: string; max: number }): number {
  const variables = options.variables ?? {};
  // Mercurius hands every run of a cached query the same document object, and only the
  // variables passed as `first` or to @skip/@include move the estimate: a client repeating an
  // operation pays for the estimate once per distinct page size, not on every call.
  let cached = costCache.get(options.document);
  if (!cached) costCache.set(options.document, (cached = { costVariables: costVariables(options.document), costs: new Map() }));
  const key = `${options.operationName ?? ''}\u0000${cached.costVariables.map((name) => String(variables[name])).join('\u0000')}`;
  let cost = cached.costs.get(key);
  if (cost === undefined) {
    cost = getComplexity({ schema: options.schema, query: options.document, variables: withoutListItems(variables), operationName: options.operationName, estimators: [estimator] });
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

/**
 * The variables as the estimate needs them: list variables emptied. Only `first` moves the
 * estimate, and getComplexity coerces every variable, which for a batch of 1,000 input
 * objects costs as much as the execution's own coercion (that one still checks them all).
 */
function withoutListItems(variables: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, Array.isArray(value) ? [] : value]));
}
