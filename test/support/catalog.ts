import { randomUUID } from 'node:crypto';
import type { TestApp } from './app';

export interface PoolFixture {
  poolId: string;
  apps: Record<string, string>;
}

/** A pool with apps, created through the API; app keys get a unique suffix per call. */
export async function createPool(
  t: TestApp,
  adminKey: string,
  options: {
    cap: number;
    apps: { key: string; cost: number; shareScope?: string; lingerSeconds?: number; minimumChargeSeconds?: number }[];
    defaultLeaseSeconds?: number;
    maxLeaseSeconds?: number;
    maxBorrowHours?: number;
  },
): Promise<PoolFixture & { keyOf: (key: string) => string }> {
  const suffix = randomUUID().slice(0, 8);
  const pool = await t.gql<{ createPool: { id: string } }>(adminKey, 'mutation($input: CreatePoolInput!) { createPool(input: $input) { id } }', {
    input: {
      name: `pool-${suffix}`,
      cap: options.cap,
      defaultLeaseSeconds: options.defaultLeaseSeconds,
      maxLeaseSeconds: options.maxLeaseSeconds,
      maxBorrowHours: options.maxBorrowHours,
      creditHourPrice: 1.5,
    },
  });
  if (!pool.data) throw new Error(JSON.stringify(pool.errors));
  const poolId = pool.data.createPool.id;
  const apps: Record<string, string> = {};
  for (const app of options.apps) {
    const key = `${app.key}-${suffix}`;
    const created = await t.gql<{ createApp: { id: string } }>(adminKey, 'mutation($input: CreateAppInput!) { createApp(input: $input) { id } }', {
      input: {
        poolId,
        key,
        name: app.key,
        cost: app.cost,
        shareScope: app.shareScope ?? 'NONE',
        lingerSeconds: app.lingerSeconds ?? 0,
        minimumChargeSeconds: app.minimumChargeSeconds,
      },
    });
    if (!created.data) throw new Error(JSON.stringify(created.errors));
    apps[app.key] = created.data.createApp.id;
  }
  return { poolId, apps, keyOf: (key: string) => `${key}-${suffix}` };
}

export const LEASE_FIELDS = 'id credits fencingToken state acquiredAt expiresAt endedAt host leaseSeconds principal { id } app { key } pool { id }';

export interface LeaseShape {
  id: string;
  credits: number;
  fencingToken: string;
  state: string;
  acquiredAt: string;
  expiresAt: string;
  endedAt: string | null;
  host: string | null;
  leaseSeconds: number;
  principal: { id: string };
  app: { key: string };
  pool: { id: string };
}

export const CHECKOUT = `mutation($input: CheckoutInput!) { checkout(input: $input) { ${LEASE_FIELDS} } }`;
export const HEARTBEAT = `mutation($id: ID!, $idle: Boolean) { heartbeat(leaseId: $id, idle: $idle) { ${LEASE_FIELDS} } }`;
export const CHECKIN = `mutation($id: ID!) { checkin(leaseId: $id) { ${LEASE_FIELDS} } }`;
