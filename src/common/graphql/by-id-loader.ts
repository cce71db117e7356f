import DataLoader from 'dataloader';

/** Reads the rows with these ids within one organization; ids it does not find (or cannot parse) are left out. */
export type FetchByIds<V> = (organizationId: string, ids: string[]) => Promise<V[]>;

/**
 * Loads rows by id for field resolvers, batched per GraphQL operation: the rows of a page
 * ask in one query (`organization_id = $1 AND id = ANY($2)`) instead of one each.
 *
 * The loaders of an operation hang off its context object (a WeakMap keyed by it), so no
 * provider becomes request-scoped and the check-out path pays nothing for them. Each
 * organization gets its own loader: a batch never mixes tenants. Loaders batch, they do not
 * cache (a subscription's context lives as long as its socket): an answer is never older
 * than the operation that asks for it.
 */
export class ByIdLoader<V extends { id: string }> {
  private readonly perContext = new WeakMap<object, Map<string, DataLoader<string, V | null>>>();

  constructor(private readonly fetch: FetchByIds<V>) {}

  /** The row with this id in the organization, or null (another organization's ids included). */
  load(context: object, organizationId: string, id: string): Promise<V | null> {
    return this.loaderOf(context, organizationId).load(id);
  }

  private loaderOf(context: object, organizationId: string): DataLoader<string, V | null> {
    let loaders = this.perContext.get(context);
    if (!loaders) {
      loaders = new Map();
      this.perContext.set(context, loaders);
    }
    let loader = loaders.get(organizationId);
    if (!loader) {
      loader = new DataLoader((ids) => this.batch(organizationId, ids), { cache: false });
      loaders.set(organizationId, loader);
    }
    return loader;
  }

  private async batch(organizationId: string, ids: readonly string[]): Promise<(V | null)[]> {
    const rows = await this.fetch(organizationId, [...new Set(ids)]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  }
}
