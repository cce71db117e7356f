import type { TokenpoolClient } from '@tokenpool/client';
import { UsageError } from './args';

/** The fields of a pool the commands read (the SDK's pools() gives at least these). */
export interface PoolView {
  id: string;
  name: string;
  cap: number;
  inUse: number;
  available: number;
  activeLeases: number;
  queueLength: number;
  apps: readonly { key: string; name: string; cost: number }[];
}

/** The fields of a lease the commands read (the SDK's leases() gives at least these). */
export interface LeaseView {
  id: string;
  state: string;
  credits: number;
  host?: string | null;
  acquiredAt: Date | string;
  expiresAt: Date | string;
  app: { key: string };
  pool: { id: string; name: string };
  principal: { name: string };
}

/**
 * Finds a pool by id or by name among the pools the key may see. People remember names and
 * scripts keep ids, so both work; an unknown one is a usage error that lists the known names,
 * which is usually all a person needs to fix the call.
 */
export async function resolvePool(client: TokenpoolClient, ref: string, command: string): Promise<PoolView> {
  return findPool(await client.pools(), ref, command);
}

/** resolvePool's choice among pools already read. */
export function findPool<P extends PoolView>(pools: readonly P[], ref: string, command: string): P {
  const found = pools.find((p) => p.id === ref) ?? pools.find((p) => p.name === ref);
  if (found) return found;
  const known = pools.map((p) => p.name).sort();
  throw new UsageError(`unknown pool "${ref}"; ${known.length ? `known pools: ${known.join(', ')}` : 'this key sees no pools'}`, command);
}

/** Every lease matching the filter, page after page (the API gives at most 100 at a time). */
export async function allLeases(client: TokenpoolClient, filter: { poolId?: string; state?: 'ACTIVE' }): Promise<LeaseView[]> {
  const pageSize = 100;
  const leases: LeaseView[] = [];
  let after: string | undefined;
  for (;;) {
    const page: readonly LeaseView[] = await client.leases({ ...filter, first: pageSize, after });
    leases.push(...page);
    if (page.length < pageSize) return leases;
    after = page[page.length - 1].id;
  }
}

export function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}
