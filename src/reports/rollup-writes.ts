import type { EntityManager } from 'typeorm';
import type { RollupBucket } from './pool-usage-rollup.entity';
import { appRowsOf, isEmptySlice, PoolRef, poolRowOf } from './rollup-rows';
import type { UsageSlice } from './usage-slices';

/**
 * The writes of the rollup job, in the caller's transaction. A recomputed bucket whose
 * figures did not change is left untouched (no new row version, same `computed_at`): runs
 * every few minutes recompute hours that rarely change, and a rollup that rewrote them all
 * would churn the table and make every run look like news.
 */
export async function writeRollupRows(
  manager: EntityManager,
  q: { pool: PoolRef; bucket: RollupBucket; from: number; to: number; slices: UsageSlice[] },
): Promise<void> {
  const { pool, bucket } = q;
  const kept = q.slices.filter((s) => !isEmptySlice(s));
  const rows = kept.map((s) => poolRowOf(pool, bucket, s));
  const apps = kept.flatMap((s) => appRowsOf(pool, bucket, s));
  const range = [pool.id, bucket, new Date(q.from), new Date(q.to)];
  await manager.query(
    `DELETE FROM pool_usage_rollups r WHERE r.pool_id = $1 AND r.bucket = $2 AND r.start >= $3 AND r.start < $4 AND NOT (r.start = ANY($5::timestamptz[]))`,
    [...range, rows.map((r) => r.start)],
  );
  await manager.query(
    `DELETE FROM app_usage_rollups r WHERE r.pool_id = $1 AND r.bucket = $2 AND r.start >= $3 AND r.start < $4
       AND NOT EXISTS (SELECT 1 FROM unnest($5::timestamptz[], $6::uuid[]) AS k(start, app_id) WHERE k.start = r.start AND k.app_id = r.app_id)`,
    [...range, apps.map((a) => a.start), apps.map((a) => a.appId)],
  );
  if (rows.length > 0) {
    await manager.query(
      `INSERT INTO pool_usage_rollups (pool_id, bucket, organization_id, start, peak_credits, credit_seconds, level_seconds, request_levels)
       SELECT $1::uuid, $2::text, $3::uuid, u.* FROM unnest($4::timestamptz[], $5::int[], $6::numeric[], $7::jsonb[], $8::jsonb[]) AS u
       ON CONFLICT (pool_id, bucket, start) DO UPDATE SET peak_credits = EXCLUDED.peak_credits, credit_seconds = EXCLUDED.credit_seconds,
         level_seconds = EXCLUDED.level_seconds, request_levels = EXCLUDED.request_levels, computed_at = now()
       WHERE (pool_usage_rollups.peak_credits, pool_usage_rollups.credit_seconds, pool_usage_rollups.level_seconds, pool_usage_rollups.request_levels)
             IS DISTINCT FROM (EXCLUDED.peak_credits, EXCLUDED.credit_seconds, EXCLUDED.level_seconds, EXCLUDED.request_levels)`,
      [
        pool.id,
        bucket,
        pool.organizationId,
        rows.map((r) => r.start),
        rows.map((r) => r.peakCredits),
        rows.map((r) => r.creditSeconds),
        rows.map((r) => JSON.stringify(r.levelSeconds)),
        rows.map((r) => JSON.stringify(r.requestLevels)),
      ],
    );
  }
  for (let i = 0; i < apps.length; i += 2000) await upsertAppRows(manager, pool, bucket, apps.slice(i, i + 2000));
}

const APP_FIGURES = [
  'peak_credits',
  'credit_seconds',
  'idle_credit_seconds',
  'leases',
  'distinct_principals',
  'denials_pool_exhausted',
  'denials_group_limit_reached',
  'denials_queue_timeout',
  'false_denials',
];

async function upsertAppRows(manager: EntityManager, pool: PoolRef, bucket: RollupBucket, apps: ReturnType<typeof appRowsOf>): Promise<void> {
  const current = APP_FIGURES.map((c) => `app_usage_rollups.${c}`).join(', ');
  const excluded = APP_FIGURES.map((c) => `EXCLUDED.${c}`).join(', ');
  await manager.query(
    `INSERT INTO app_usage_rollups (pool_id, bucket, organization_id, start, app_id, ${APP_FIGURES.join(', ')})
     SELECT $1::uuid, $2::text, $3::uuid, u.* FROM unnest($4::timestamptz[], $5::uuid[], $6::int[], $7::numeric[], $8::numeric[], $9::int[], $10::int[], $11::int[], $12::int[], $13::int[], $14::int[]) AS u
     ON CONFLICT (pool_id, bucket, start, app_id) DO UPDATE SET ${APP_FIGURES.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}
     WHERE (${current}) IS DISTINCT FROM (${excluded})`,
    [
      pool.id,
      bucket,
      pool.organizationId,
      apps.map((a) => a.start),
      apps.map((a) => a.appId),
      apps.map((a) => a.peakCredits),
      apps.map((a) => a.creditSeconds),
      apps.map((a) => a.idleCreditSeconds),
      apps.map((a) => a.leases),
      apps.map((a) => a.distinctPrincipals),
      apps.map((a) => a.denialsPoolExhausted),
      apps.map((a) => a.denialsGroupLimitReached),
      apps.map((a) => a.denialsQueueTimeout),
      apps.map((a) => a.falseDenials),
    ],
  );
}

/** Who was granted which app on `day`, from the leases granted in [day, until); rows that did not change stay as they are. */
export async function writePrincipalDay(manager: EntityManager, q: { pool: PoolRef; day: Date; until: Date }): Promise<void> {
  const params = [q.pool.id, q.day, q.pool.organizationId, q.until];
  await manager.query(
    `DELETE FROM usage_principal_days d WHERE d.pool_id = $1 AND d.day = $2
       AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.organization_id = $3 AND l.principal_id = d.principal_id
                         AND l.acquired_at >= $2 AND l.acquired_at < $4 AND l.pool_id = $1 AND l.app_id = d.app_id)`,
    params,
  );
  await manager.query(
    `INSERT INTO usage_principal_days (pool_id, day, app_id, principal_id, organization_id, leases)
     SELECT $1::uuid, $2::timestamptz, app_id, principal_id, $3::uuid, count(*)::int FROM leases
     WHERE organization_id = $3 AND pool_id = $1 AND acquired_at >= $2 AND acquired_at < $4
     GROUP BY app_id, principal_id
     ON CONFLICT (pool_id, day, app_id, principal_id) DO UPDATE SET leases = EXCLUDED.leases WHERE usage_principal_days.leases <> EXCLUDED.leases`,
    params,
  );
}
