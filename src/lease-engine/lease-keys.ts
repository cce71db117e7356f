/**
 * The Redis keys of one pool's lease state. Every key carries the hash tag `{pool:<id>}`, so
 * one pool lives in one Redis Cluster slot and its Lua scripts may touch all of its keys.
 *
 * The scripts get only `base` as KEYS[1] and derive the others by appending the same
 * suffixes (see lua/lease-lib.lua, which also describes what each key holds); change both
 * together.
 */
export const POOL_KEY_SUFFIXES = {
  state: ':state',
  leases: ':leases',
  lingers: ':lingers',
  groups: ':groups',
  events: ':events',
} as const;

export type PoolKeyName = keyof typeof POOL_KEY_SUFFIXES;
export type PoolKeys = Record<PoolKeyName | 'base', string>;

/** The pool's key base, the one key the scripts are called with. */
export function poolKeyBase(prefix: string, poolId: string): string {
  return `${prefix}:{pool:${poolId}}`;
}

export function poolKeys(prefix: string, poolId: string): PoolKeys {
  const base = poolKeyBase(prefix, poolId);
  const keys = { base } as PoolKeys;
  for (const [name, suffix] of Object.entries(POOL_KEY_SUFFIXES) as [PoolKeyName, string][]) keys[name] = base + suffix;
  return keys;
}
