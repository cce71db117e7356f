import { LeaseEntity, LeaseState } from './lease.entity';

/**
 * The `leases` columns leaseFromRow reads, for a RETURNING or SELECT list. Named, not `*`: a
 * named (prepared) statement whose result gains a column fails ("cached plan must not change
 * result type") on every connection that prepared it, as when a migration adds a column
 * while the API runs.
 */
const LEASE_COLUMNS = [
  'id',
  'organization_id',
  'pool_id',
  'app_id',
  'principal_id',
  'requested_by_principal_id',
  'api_key_id',
  'work_unit_id',
  'team',
  'host',
  'draw_id',
  'credits',
  'lease_seconds',
  'fencing_token',
  'epoch',
  'state',
  'acquired_at',
  'expires_at',
  'ended_at',
  'last_heartbeat_at',
  'idle_since',
  'credit_seconds',
  'idempotency_key',
  'request_hash',
  'end_reason',
  'borrowed_until',
  'revoked_at',
] as const;

/** LEASE_COLUMNS qualified by a table alias: "l.id, l.organization_id, …". */
export function leaseColumns(alias: string): string {
  return LEASE_COLUMNS.map((column) => `${alias}.${column}`).join(', ');
}

/** A `leases` row from a raw query (snake_case columns) as the entity, for hot paths that skip TypeORM's find. */
export function leaseFromRow(row: Record<string, unknown>): LeaseEntity {
  const numeric = (value: unknown) => (value === null ? null : Number(value));
  return Object.assign(new LeaseEntity(), {
    id: row.id as string,
    organizationId: row.organization_id as string,
    poolId: row.pool_id as string,
    appId: row.app_id as string,
    principalId: row.principal_id as string,
    requestedByPrincipalId: row.requested_by_principal_id as string,
    apiKeyId: row.api_key_id as string,
    workUnitId: row.work_unit_id as string | null,
    team: row.team as string | null,
    host: row.host as string | null,
    drawId: row.draw_id as string,
    credits: row.credits as number,
    leaseSeconds: row.lease_seconds as number,
    fencingToken: String(row.fencing_token),
    epoch: String(row.epoch),
    state: row.state as LeaseState,
    acquiredAt: row.acquired_at as Date,
    expiresAt: row.expires_at as Date,
    endedAt: row.ended_at as Date | null,
    lastHeartbeatAt: row.last_heartbeat_at as Date | null,
    idleSince: row.idle_since as Date | null,
    creditSeconds: numeric(row.credit_seconds),
    idempotencyKey: row.idempotency_key as string | null,
    requestHash: row.request_hash as string | null,
    endReason: row.end_reason as string | null,
    borrowedUntil: (row.borrowed_until as Date | null | undefined) ?? null,
    revokedAt: (row.revoked_at as Date | null | undefined) ?? null,
  });
}
