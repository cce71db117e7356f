import { LeaseEntity, LeaseState } from './lease.entity';

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
  });
}
