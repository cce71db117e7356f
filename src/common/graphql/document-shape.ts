import { DocumentNode, FragmentDefinitionNode, Kind, OperationDefinitionNode, SelectionSetNode } from 'graphql';

/** What the limits measure of one document; `visits` is the work it took. */
export interface DocumentShape {
  /** Deepest field nesting of any operation (introspection fields aside). */
  depth: number;
  /** Aliased fields written in the document. */
  aliases: number;
  /** Most distinct root response keys of any operation (introspection fields aside). */
  rootFields: number;
  /** Selections the analysis looked at: each written selection once, whatever the fan-out. */
  visits: number;
}

interface FragmentFacts {
  depth: number;
  rootKeys: Set<string>;
}

/**
 * Measures a document in time linear in its size. Each fragment is measured once and the
 * result reused wherever it is spread: a walk per path would double with every level of
 * `fragment F1 { ...F2 ...F2 }` and let one small request hold the process for hours.
 */
export class DocumentShapes {
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly facts = new Map<string, FragmentFacts>();
  private readonly inProgress = new Set<string>();
  visits = 0;

  constructor(document: DocumentNode) {
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) this.fragments.set(definition.name.value, definition);
    }
  }

  depthOf(operation: OperationDefinitionNode): number {
    return this.selectionDepth(operation.selectionSet);
  }

  rootFieldsOf(operation: OperationDefinitionNode): number {
    return this.rootKeys(operation.selectionSet).size;
  }

  private selectionDepth(selectionSet: SelectionSetNode | undefined): number {
    if (!selectionSet) return 0;
    let deepest = 0;
    for (const selection of selectionSet.selections) {
      this.visits += 1;
      if (selection.kind === Kind.FIELD) {
        if (!selection.name.value.startsWith('__')) deepest = Math.max(deepest, 1 + this.selectionDepth(selection.selectionSet));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        deepest = Math.max(deepest, this.selectionDepth(selection.selectionSet));
      } else {
        deepest = Math.max(deepest, this.fragment(selection.name.value)?.depth ?? 0);
      }
    }
    return deepest;
  }

  /** Response keys at the top of a selection set, as execution merges them (`pools pools` is one). */
  private rootKeys(selectionSet: SelectionSetNode): Set<string> {
    const keys = new Set<string>();
    for (const selection of selectionSet.selections) {
      this.visits += 1;
      if (selection.kind === Kind.FIELD) {
        if (!selection.name.value.startsWith('__')) keys.add(selection.alias?.value ?? selection.name.value);
      } else {
        const inner = selection.kind === Kind.INLINE_FRAGMENT ? this.rootKeys(selection.selectionSet) : this.fragment(selection.name.value)?.rootKeys;
        for (const key of inner ?? []) keys.add(key);
      }
    }
    return keys;
  }

  /** A fragment measured once; an unknown or cyclic one (refused by the standard rules) counts as empty. */
  private fragment(name: string): FragmentFacts | undefined {
    const known = this.facts.get(name);
    if (known) return known;
    const definition = this.fragments.get(name);
    if (!definition || this.inProgress.has(name)) return undefined;
    this.inProgress.add(name);
    const facts = { depth: this.selectionDepth(definition.selectionSet), rootKeys: this.rootKeys(definition.selectionSet) };
    this.inProgress.delete(name);
    this.facts.set(name, facts);
    return facts;
  }
}

/** The shape of a whole document: the largest depth and root-field count of its operations. */
export function documentShape(document: DocumentNode): DocumentShape {
  const shapes = new DocumentShapes(document);
  let depth = 0;
  let rootFields = 0;
  let aliases = 0;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    depth = Math.max(depth, shapes.depthOf(definition));
    rootFields = Math.max(rootFields, shapes.rootFieldsOf(definition));
  }
  aliases = countAliases(document);
  return { depth, aliases, rootFields, visits: shapes.visits };
}

/** Aliases as written: each field node once, so fragments cannot multiply them. */
export function countAliases(document: DocumentNode): number {
  let aliases = 0;
  const stack: SelectionSetNode[] = [];
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION || definition.kind === Kind.FRAGMENT_DEFINITION) stack.push(definition.selectionSet);
  }
  for (let set = stack.pop(); set; set = stack.pop()) {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD && selection.alias) aliases += 1;
      if (selection.kind !== Kind.FRAGMENT_SPREAD && selection.selectionSet) stack.push(selection.selectionSet);
    }
  }
  return aliases;
}
