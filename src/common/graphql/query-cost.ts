import {
  DirectiveNode,
  DocumentNode,
  FieldNode,
  FragmentDefinitionNode,
  getNamedType,
  getNullableType,
  GraphQLCompositeType,
  GraphQLField,
  GraphQLSchema,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  SchemaMetaFieldDef,
  SelectionSetNode,
  TypeMetaFieldDef,
  ValueNode,
} from 'graphql';

// A list is assumed to hold this many items when its size is not bounded by `first`.
export const DEFAULT_LIST_SIZE = 10;

export interface CostOptions {
  schema: GraphQLSchema;
  document: DocumentNode;
  variables?: Record<string, unknown>;
  operationName?: string;
  /** The page size assumed for `first: $var` when the variable's value is not known (subscriptions). */
  unknownFirst?: number;
}

/**
 * Estimates an operation's cost: each field 1, a list multiplies its children by `first`
 * (or DEFAULT_LIST_SIZE), a list of scalars costs 2. Linear in the document's size: each
 * fragment is costed once and reused wherever it is spread (a fragment's cost does not
 * depend on where it is spread), so fan-out cannot make the estimate itself expensive.
 * Spreads of one fragment side by side are summed although execution merges them: an
 * overestimate only honest documents never reach.
 */
export function estimateCost(options: CostOptions): { cost: number; visits: number } {
  const walk = new CostWalk(options);
  let cost = 0;
  // Without an operation name the most expensive operation counts: whichever one runs is covered.
  for (const operation of options.document.definitions) {
    if (operation.kind !== Kind.OPERATION_DEFINITION) continue;
    if (options.operationName !== undefined && operation.name?.value !== options.operationName) continue;
    const root = options.schema.getRootType(operation.operation);
    if (root) cost = Math.max(cost, walk.selectionSet(operation.selectionSet, root));
  }
  return { cost, visits: walk.visits };
}

class CostWalk {
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly costs = new Map<string, number>();
  private readonly inProgress = new Set<string>();
  visits = 0;

  constructor(private readonly options: CostOptions) {
    for (const d of options.document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) this.fragments.set(d.name.value, d);
  }

  selectionSet(selectionSet: SelectionSetNode, parent: GraphQLCompositeType): number {
    let cost = 0;
    for (const selection of selectionSet.selections) {
      this.visits += 1;
      if (this.skipped(selection.directives)) continue;
      if (selection.kind === Kind.FIELD) cost += this.field(selection, parent);
      else if (selection.kind === Kind.INLINE_FRAGMENT)
        cost += this.selectionSet(selection.selectionSet, this.typeNamed(selection.typeCondition?.name.value) ?? parent);
      else cost += this.fragment(selection.name.value);
    }
    return cost;
  }

  private fragment(name: string): number {
    const known = this.costs.get(name);
    if (known !== undefined) return known;
    const definition = this.fragments.get(name);
    const type = this.typeNamed(definition?.typeCondition.name.value);
    // Unknown or cyclic fragments are refused by the standard validation rules.
    if (!definition || !type || this.inProgress.has(name)) return 0;
    this.inProgress.add(name);
    const cost = this.selectionSet(definition.selectionSet, type);
    this.inProgress.delete(name);
    this.costs.set(name, cost);
    return cost;
  }

  private field(node: FieldNode, parent: GraphQLCompositeType): number {
    const name = node.name.value;
    if (name === '__typename') return 0;
    const definition = this.fieldDefinition(parent, name);
    if (!definition) return 1;
    const type = getNullableType(definition.type);
    const named = getNamedType(type);
    const children = node.selectionSet && isCompositeType(named) ? this.selectionSet(node.selectionSet, named) : 0;
    if (!isListType(type)) return 1 + children;
    const leafList = !isCompositeType(named);
    return 1 + (leafList ? 1 : children * this.pageSize(node));
  }

  private pageSize(node: FieldNode): number {
    const first = node.arguments?.find((a) => a.name.value === 'first')?.value;
    if (!first) return DEFAULT_LIST_SIZE;
    const value = this.valueOf(first);
    if (value === undefined && first.kind === Kind.VARIABLE && this.options.unknownFirst) return this.options.unknownFirst;
    return typeof value === 'number' && value > 0 ? value : DEFAULT_LIST_SIZE;
  }

  private fieldDefinition(parent: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined {
    if (parent === this.options.schema.getQueryType()) {
      if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
      if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
    }
    return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
  }

  private typeNamed(name: string | undefined): GraphQLCompositeType | undefined {
    const type = name ? this.options.schema.getType(name) : undefined;
    return type && isCompositeType(type) ? type : undefined;
  }

  /** @skip(if: true) and @include(if: false) remove a selection; an unknown condition counts it. */
  private skipped(directives: readonly DirectiveNode[] | undefined): boolean {
    for (const directive of directives ?? []) {
      const condition = directive.arguments?.find((a) => a.name.value === 'if')?.value;
      const value = condition ? this.valueOf(condition) : undefined;
      if (directive.name.value === 'skip' && value === true) return true;
      if (directive.name.value === 'include' && value === false) return true;
    }
    return false;
  }

  private valueOf(node: ValueNode): unknown {
    if (node.kind === Kind.VARIABLE) return this.options.variables?.[node.name.value];
    if (node.kind === Kind.INT) return Number(node.value);
    if (node.kind === Kind.BOOLEAN) return node.value;
    return undefined;
  }
}
