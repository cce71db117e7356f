import type { NamedStatement } from '../common/database/named-statements';
import { leaseColumns } from './lease-row';

// The hot statements of leases (check-out and check-in group commits, heartbeat write-behind,
// refusals), sent by name through NamedStatements by LeaseRecordsService. Each name stands
// for this one text.

/**
 * The grant records of one group commit. Each pool's row is locked (in id order, so batches
 * of several pools cannot deadlock), and its grants under the current epoch are checked with
 * the highest fencing token recorded before (if of the same epoch) in token order: as tokens
 * rise, Redis's clock at the grant (acquired_at) may not go back, and a token may not come
 * back for another grant. Either shows a Redis that went back in time: it re-issues tokens
 * PostgreSQL holds, the first ones maybe of grants never recorded (so uniqueness is not
 * enough), later than the recorded ones. Then none of the pool's grants is recorded and its
 * epoch is raised at once, so that no later grant of the old state can be recorded either
 * while the pool is rebuilt. Grants recorded out of token order (two processes, two batches)
 * pass: their clock order matches their token order. Otherwise the highest recorded token
 * only rises.
 */
export const INSERT_LEASES: NamedStatement = {
  name: 'lease_insert_batch',
  text: `
  WITH v AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::uuid[], $7::uuid[], $8::uuid[], $9::text[], $10::text[],
                         $11::uuid[], $12::int[], $13::int[], $14::bigint[], $15::bigint[], $16::timestamptz[], $17::timestamptz[], $18::text[], $19::text[],
                         $20::timestamptz[])
      AS v(id, organization_id, pool_id, app_id, principal_id, requested_by_principal_id, api_key_id, work_unit_id, team, host,
           draw_id, credits, lease_seconds, fencing_token, epoch, acquired_at, expires_at, idempotency_key, request_hash, borrowed_until)),
  p AS (
    SELECT id, epoch, highest_fencing_token AS top, highest_fencing_token_at AS top_at FROM pools
    WHERE id IN (SELECT pool_id FROM v) ORDER BY id FOR NO KEY UPDATE),
  s AS (
    SELECT v.pool_id, v.fencing_token AS t, v.acquired_at AS a FROM v JOIN p ON p.id = v.pool_id AND p.epoch = v.epoch
    UNION ALL
    SELECT id, top, top_at FROM p WHERE top_at IS NOT NULL AND top / 1000000000000 = epoch),
  o AS (SELECT pool_id, t, a, lag(t) OVER w AS prev_t, lag(a) OVER w AS prev_a FROM s WINDOW w AS (PARTITION BY pool_id ORDER BY t, a)),
  rb AS (SELECT DISTINCT pool_id FROM o WHERE (t > prev_t AND a < prev_a) OR (t = prev_t AND a <> prev_a)),
  ins AS (
    INSERT INTO leases (id, organization_id, pool_id, app_id, principal_id, requested_by_principal_id, api_key_id, work_unit_id,
                        team, host, draw_id, credits, lease_seconds, fencing_token, epoch, state, acquired_at, expires_at,
                        idempotency_key, request_hash, borrowed_until)
    SELECT v.id, v.organization_id, v.pool_id, v.app_id, v.principal_id, v.requested_by_principal_id, v.api_key_id, v.work_unit_id,
           v.team, v.host, v.draw_id, v.credits, v.lease_seconds, v.fencing_token, v.epoch, 'ACTIVE', v.acquired_at, v.expires_at,
           v.idempotency_key, v.request_hash, v.borrowed_until
    FROM v JOIN p ON p.id = v.pool_id AND p.epoch = v.epoch
    WHERE v.pool_id NOT IN (SELECT pool_id FROM rb)
    ON CONFLICT DO NOTHING
    RETURNING id, pool_id, fencing_token, acquired_at),
  hi AS (SELECT DISTINCT ON (pool_id) pool_id, fencing_token, acquired_at FROM ins ORDER BY pool_id, fencing_token DESC),
  up AS (
    UPDATE pools SET epoch = p.epoch + CASE WHEN rb.pool_id IS NULL THEN 0 ELSE 1 END,
                     highest_fencing_token = CASE WHEN hi.fencing_token > p.top THEN hi.fencing_token ELSE p.top END,
                     highest_fencing_token_at = CASE WHEN hi.fencing_token > p.top THEN hi.acquired_at ELSE p.top_at END
    FROM p LEFT JOIN rb ON rb.pool_id = p.id LEFT JOIN hi ON hi.pool_id = p.id
    WHERE pools.id = p.id AND (rb.pool_id IS NOT NULL OR hi.fencing_token > p.top))
  SELECT v.id, EXISTS (SELECT 1 FROM ins WHERE ins.id = v.id) AS inserted,
         p.epoch = v.epoch AS current_epoch, EXISTS (SELECT 1 FROM rb WHERE rb.pool_id = v.pool_id) AS rolled_back
  FROM v LEFT JOIN p ON p.id = v.pool_id`,
};

/**
 * The columns a check-in or revocation (state, a SQL expression) sets on the leases row
 * `alias`: a revoked borrowed lease keeps its credits until its borrowedUntil (the tool may
 * still run offline on its proof), so that is when it stops holding them (ended_at and
 * credit_seconds); revoked_at says when it was revoked.
 */
export function endSets(alias: string, state: string): string {
  const heldUntil = `CASE WHEN ${state} = 'REVOKED' AND ${alias}.borrowed_until IS NOT NULL THEN greatest(now(), ${alias}.borrowed_until) ELSE now() END`;
  return `ended_at = ${heldUntil}, revoked_at = CASE WHEN ${state} = 'REVOKED' THEN now() END,
          credit_seconds = ${alias}.credits * extract(epoch FROM (${heldUntil} - ${alias}.acquired_at))`;
}

/** Ends a group commit's leases that are still active and held by who asks (or anyone, for an admin); returns the ended rows. */
export const END_LEASES: NamedStatement = {
  name: 'lease_end_batch',
  text: `WITH v AS (
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::boolean[], $6::uuid[])
             AS v(id, organization_id, state, reason, any_holder, principal_id))
         UPDATE leases l SET state = v.state, ${endSets('l', 'v.state')}, end_reason = v.reason
         FROM v
         WHERE l.id = v.id AND l.organization_id = v.organization_id AND l.state = 'ACTIVE' AND l.expires_at > now()
           AND (v.any_holder OR l.principal_id = v.principal_id OR l.requested_by_principal_id = v.principal_id)
         RETURNING ${leaseColumns('l')}`,
};

/** One refusal, folded into the row of the same principal, app, pool and reason within DENIAL_COALESCE_SECONDS. */
export const RECORD_DENIAL: NamedStatement = {
  name: 'denial_record',
  text: `INSERT INTO denials (organization_id, pool_id, app_id, principal_id, team, requested, available, reason, bucket_start)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, to_timestamp(floor(extract(epoch FROM now()) / nullif($9::int, 0)) * $9::int))
       ON CONFLICT (organization_id, pool_id, principal_id, app_id, reason, bucket_start) WHERE bucket_start IS NOT NULL
       DO UPDATE SET count = denials.count + 1, at = least(denials.at, excluded.at), last_at = greatest(coalesce(denials.last_at, denials.at), excluded.at)`,
};

/** The write-behind's heartbeats of many leases (see LeaseRecordsService.writeHeartbeats); returns the leases PostgreSQL shows ended. */
export const WRITE_HEARTBEATS: NamedStatement = {
  name: 'lease_heartbeat_batch',
  text: `WITH v AS (
         SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::boolean[], $4::timestamptz[], $5::timestamptz[])
           AS v(id, expires_at, idle, first_at, last_at)),
       old AS (
         SELECT l.id, l.organization_id, l.pool_id, l.idle_since, l.last_heartbeat_at, l.acquired_at
         FROM leases l WHERE l.id IN (SELECT id FROM v) AND l.state = 'ACTIVE'
         ORDER BY l.id FOR UPDATE),
       closed AS (
         INSERT INTO lease_idle_intervals (organization_id, pool_id, lease_id, started_at, ended_at)
         SELECT old.organization_id, old.pool_id, old.id, old.idle_since, v.first_at
         FROM old JOIN v ON v.id = old.id
         WHERE NOT v.idle AND old.idle_since IS NOT NULL AND v.first_at > old.idle_since),
       extended AS (
         UPDATE leases l SET expires_at = greatest(l.expires_at, v.expires_at), last_heartbeat_at = greatest(l.last_heartbeat_at, v.last_at),
                idle_since = CASE WHEN v.idle THEN coalesce(old.idle_since, old.last_heartbeat_at, old.acquired_at) ELSE NULL END
         FROM v JOIN old ON old.id = v.id
         WHERE l.id = v.id
         RETURNING l.id)
       SELECT l.id, l.pool_id, l.state FROM leases l
       WHERE l.id IN (SELECT id FROM v) AND l.id NOT IN (SELECT id FROM extended) AND l.state <> 'ACTIVE'`,
};
