import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import type { AuthContext } from '../auth/auth-context';
import { uuidFrom } from '../common/derived-id';
import { AppError } from '../common/errors/app-error';
import { isUuid } from '../common/validation/validate';
import { AppsService } from '../apps/apps.service';
import type { CatalogAppEntity } from '../apps/catalog-app.entity';
import { IMPORTED_API_KEY_ID } from '../history/history-import.service';
import { PoolEntity } from '../pools/pool.entity';
import { MIN_LEASE_SECONDS, PoolsService } from '../pools/pools.service';
import { UsageRollupsService } from '../reports/usage-rollups.service';
import { LOG_FORMATS, LogFormat } from './log-events';
import { ReadLog, readLog } from './read-log';
import type { LogDenial, LogLease, StrayCheckIn } from './usage-collector';

/** What an import recorded, as the endpoint answers it. */
export interface ImportSummary {
  importId: string;
  format: LogFormat;
  lines: number;
  /** Leases this import recorded (not ones an earlier import had). */
  leases: number;
  denials: number;
  /** Checkouts, denials and holdings an earlier import (or this one) recorded already. */
  duplicates: number;
  /** Lines that are not events (banners, statistics, unknown lines), and check-ins with no checkout. */
  skippedLines: number;
  /** Recorded leases whose end is an estimate: a restart, the last snapshot that showed them, or the log's end. */
  estimatedEnds: number;
  unmatchedFeatures: string[];
  firstEvent: string | null;
  lastEvent: string | null;
}

/** The end_reason of imported leases: ended by a check-in, or at an estimated time. */
export const IMPORTED_REASON = 'imported';
export const ESTIMATED_REASON = 'imported (estimated end)';
const WRITE_BATCH = 5000;

/**
 * License-log import (docs/license-logs.md): the logs of the FlexNet and RLM servers a company
 * runs already become the pool's usage history, for the same reports as live usage. The body
 * is read as a stream, line by line, into leases and denials in memory (nothing is recorded
 * until the whole body proved to be text of the named format), then written in one
 * transaction: events an earlier import recorded are recognized by their keys and recorded
 * once; a lease an earlier import ended at an estimate takes its real end when a later log
 * shows its check-in. Imports are history: they never touch the live pool in Redis.
 */
@Injectable()
export class LicenseLogImportService {
  private readonly logger = new Logger(LicenseLogImportService.name);
  /** Pools importing in this process (one at a time per pool; the database lock covers the others). */
  private readonly running = new Set<string>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly pools: PoolsService,
    private readonly apps: AppsService,
    private readonly rollups: UsageRollupsService,
  ) {}

  async import(auth: AuthContext, q: { poolId: unknown; format: unknown; timeZone: unknown }, body: AsyncIterable<Buffer>): Promise<ImportSummary> {
    const format = q.format as LogFormat;
    if (typeof q.format !== 'string' || !LOG_FORMATS.includes(format)) {
      throw AppError.badInput('format', `The format must be one of ${LOG_FORMATS.join(', ')} (the path /v1/imports/<format>)`);
    }
    if (typeof q.poolId !== 'string' || !isUuid(q.poolId)) throw AppError.badInput('poolId', 'poolId must be the id of a pool of your organization');
    const timeZone = q.timeZone === undefined || q.timeZone === '' ? 'UTC' : q.timeZone;
    if (typeof timeZone !== 'string' || timeZone.length > 64) throw AppError.badInput('tz', 'tz must be an IANA time zone such as Europe/Berlin');
    const pool = await this.pools.getInOrganization(auth.organizationId, q.poolId, 'poolId');
    if (this.running.has(pool.id)) {
      throw new AppError('RATE_LIMITED', `An import into pool ${pool.name} is running; import the next file when it is done`, { retryAfterSeconds: 5 });
    }
    this.running.add(pool.id);
    try {
      const started = Date.now();
      const read = await readLog(format, timeZone, body);
      return await this.record(auth, pool, format, timeZone, read, Date.now() - started);
    } finally {
      this.running.delete(pool.id);
    }
  }

  private async record(auth: AuthContext, pool: PoolEntity, format: LogFormat, timeZone: string, read: ReadLog, readMs: number): Promise<ImportSummary> {
    const started = Date.now();
    const { collector } = read;
    const appFor = featureMatcher(await this.apps.listByPool(pool.id));
    const unmatched = new Set<string>();
    const matched = <T extends { feature: string }>(rows: T[]) =>
      rows.flatMap((row) => {
        const app = appFor(row.feature);
        if (!app) unmatched.add(row.feature);
        return app ? [{ row, app }] : [];
      });
    const leases = matched(collector.leases);
    const denials = matched(collector.denials);
    const strays = matched(collector.strays);
    const result = await this.dataSource.transaction(async (manager) => {
      // One import of a pool at a time across processes, and one creation of a user at a time in the organization.
      await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('license-log-import:' || $1, 0))`, [pool.organizationId]);
      const principals = await this.principalsFor(
        manager,
        pool.organizationId,
        [...leases, ...denials, ...strays].map((m) => m.row.user),
      );
      // A lease's id derives from its checkout's key: the leases' primary key tells new from recorded.
      const inserted = await this.insertLeases(manager, pool, leases, principals);
      const newLeases = leases.filter((m) => inserted.has(leaseIdOf(pool.id, m.row.key)));
      const oldLeases = leases.filter((m) => !inserted.has(leaseIdOf(pool.id, m.row.key)));
      const fresh = await this.newKeys(
        manager,
        pool,
        denials.map((m) => m.row.key),
      );
      const newDenials = denials.filter((m) => fresh.has(m.row.key));
      await this.insertDenials(manager, pool, newDenials, principals);
      // A lease an earlier import ended at an estimate: this log may show its real (or a later) end.
      const estimated = await this.estimatedLeases(manager, pool);
      await this.extend(
        manager,
        pool,
        oldLeases
          .map((m) => ({ id: leaseIdOf(pool.id, m.row.key), end: m.row.end, estimated: m.row.estimated, app: m.app }))
          .filter((e) => estimated.has(e.id)),
      );
      const closedStrays = await this.closeStrays(manager, pool, strays, principals);
      const summary = {
        leases: newLeases.length,
        denials: newDenials.length,
        duplicates: oldLeases.length + (denials.length - newDenials.length),
        skipped: read.skipped + (strays.length - closedStrays) + (collector.strays.length - strays.length),
        estimated: newLeases.filter((m) => m.row.estimated).length,
      };
      const [row]: { id: string }[] = await manager.query(
        `INSERT INTO license_log_imports (organization_id, pool_id, format, time_zone, lines, leases, denials, duplicates, skipped_lines, estimated_ends,
                                          unmatched_features, first_event, last_event, created_by_principal_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
        [
          pool.organizationId,
          pool.id,
          format,
          timeZone,
          read.lines,
          summary.leases,
          summary.denials,
          summary.duplicates,
          summary.skipped,
          summary.estimated,
          [...unmatched].sort(),
          dateOrNull(collector.first),
          dateOrNull(collector.last),
          auth.principalId,
        ],
      );
      return { ...summary, importId: row.id, changed: newLeases.length + newDenials.length + oldLeases.length + closedStrays > 0 };
    });
    const written = Date.now();
    if (result.changed && collector.first !== null && collector.last !== null) {
      const longest = collector.leases.reduce((m, l) => Math.max(m, (l.end - l.start) / 1000), 0);
      await this.rollups.refreshCovered(pool, { from: collector.first, to: collector.last + 1, longestSeconds: longest });
    }
    this.logger.log(
      `Imported a ${format} log of ${read.lines} lines into pool ${pool.id}: ${result.leases} leases, ${result.denials} denials, ${result.duplicates} duplicates; read ${readMs} ms, written ${written - started} ms, rollups ${Date.now() - written} ms`,
    );
    return {
      importId: result.importId,
      format,
      lines: read.lines,
      leases: result.leases,
      denials: result.denials,
      duplicates: result.duplicates,
      skippedLines: result.skipped,
      estimatedEnds: result.estimated,
      unmatchedFeatures: [...unmatched].sort(),
      firstEvent: dateOrNull(collector.first)?.toISOString() ?? null,
      lastEvent: dateOrNull(collector.last)?.toISOString() ?? null,
    };
  }

  /** The USER principals of these names in the organization, created on first sight; name → id. */
  private async principalsFor(manager: EntityManager, organizationId: string, names: string[]): Promise<Map<string, string>> {
    const wanted = [...new Set(names)];
    const found = new Map<string, string>();
    if (wanted.length === 0) return found;
    const rows: { id: string; name: string }[] = await manager.query(
      `SELECT DISTINCT ON (name) id, name FROM principals WHERE organization_id = $1 AND kind = 'USER' AND name = ANY($2::text[]) ORDER BY name, created_at`,
      [organizationId, wanted],
    );
    for (const r of rows) found.set(r.name, r.id);
    const missing = wanted.filter((name) => !found.has(name));
    for (let at = 0; at < missing.length; at += WRITE_BATCH) {
      const created: { id: string; name: string }[] = await manager.query(
        `INSERT INTO principals (organization_id, name, kind, team, org_unit_kind) SELECT $1, n, 'USER', NULL, 'GOING_CONCERN' FROM unnest($2::text[]) AS n RETURNING id, name`,
        [organizationId, missing.slice(at, at + WRITE_BATCH)],
      );
      for (const r of created) found.set(r.name, r.id);
    }
    return found;
  }

  /** The keys among these (denials') that no import of the pool recorded before; they are recorded now. */
  private async newKeys(manager: EntityManager, pool: PoolEntity, keys: string[]): Promise<Set<string>> {
    const fresh = new Set<string>();
    const distinct = [...new Set(keys)];
    for (let at = 0; at < distinct.length; at += WRITE_BATCH) {
      const rows: { event_key: string }[] = await manager.query(
        `INSERT INTO license_log_events (pool_id, event_key, organization_id) SELECT $1, k, $2 FROM unnest($3::text[]) AS k
         ON CONFLICT DO NOTHING RETURNING event_key`,
        [pool.id, pool.organizationId, distinct.slice(at, at + WRITE_BATCH)],
      );
      for (const r of rows) fresh.add(r.event_key);
    }
    return fresh;
  }

  /** Leases and their draws (one each: a log's checkout holds count x the app's cost), never in the live pool. */
  private async insertLeases(
    manager: EntityManager,
    pool: PoolEntity,
    leases: { row: LogLease; app: CatalogAppEntity }[],
    principals: Map<string, string>,
  ): Promise<Set<string>> {
    const inserted = new Set<string>();
    for (let at = 0; at < leases.length; at += WRITE_BATCH) {
      const batch = leases.slice(at, at + WRITE_BATCH);
      const col = <T>(f: (m: { row: LogLease; app: CatalogAppEntity }) => T) => batch.map(f);
      const params = [
        pool.organizationId,
        pool.id,
        IMPORTED_API_KEY_ID,
        col((m) => leaseIdOf(pool.id, m.row.key)),
        col((m) => m.app.id),
        col((m) => principals.get(m.row.user)!),
        col((m) => m.row.host),
        col((m) => credits(m.row.count, m.app)),
        col((m) => leaseSeconds(m.row, pool)),
        col((m) => new Date(m.row.start)),
        col((m) => new Date(m.row.end)),
        col((m) => (m.row.estimated ? ESTIMATED_REASON : IMPORTED_REASON)),
        col((m) => m.app.minimumChargeSeconds),
      ];
      const rows: { id: string }[] = await manager.query(
        `WITH u AS (
           SELECT * FROM unnest($4::uuid[], $5::uuid[], $6::uuid[], $7::text[], $8::int[], $9::int[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::int[])
             AS u(id, app_id, principal_id, host, credits, lease_seconds, s, e, reason, minimum)),
         l AS (
           INSERT INTO leases (id, organization_id, pool_id, app_id, principal_id, requested_by_principal_id, api_key_id, work_unit_id, team, host, draw_id,
                               credits, lease_seconds, fencing_token, epoch, state, acquired_at, expires_at, ended_at, credit_seconds, end_reason)
           SELECT u.id, $1, $2, u.app_id, u.principal_id, u.principal_id, $3, NULL, NULL, u.host, u.id, u.credits, u.lease_seconds, 0, 0, 'RELEASED',
                  u.s, u.e, u.e, u.credits * extract(epoch FROM (u.e - u.s)), u.reason
           FROM u ON CONFLICT (id) DO NOTHING RETURNING id),
         d AS (
           INSERT INTO lease_draws (id, organization_id, pool_id, app_id, opener_lease_id, principal_id, work_unit_id, team, credits, opened_at, ended_at,
                                    credit_seconds, charged_credit_seconds, idle_credit_seconds, source)
           SELECT u.id, $1, $2, u.app_id, u.id, u.principal_id, NULL, NULL, u.credits, u.s, u.e, u.credits * extract(epoch FROM (u.e - u.s)),
                  u.credits * greatest(extract(epoch FROM (u.e - u.s)), u.minimum), 0, 'imported'
           FROM u JOIN l ON l.id = u.id)
         SELECT id FROM l`,
        params,
      );
      for (const r of rows) inserted.add(r.id);
    }
    return inserted;
  }

  /** The pool's imported leases whose end is an estimate (few: the partial index finds them). */
  private async estimatedLeases(manager: EntityManager, pool: PoolEntity): Promise<Set<string>> {
    const rows: { id: string }[] = await manager.query(`SELECT id FROM leases WHERE pool_id = $1 AND end_reason = '${ESTIMATED_REASON}'`, [pool.id]);
    return new Set(rows.map((r) => r.id));
  }

  private async insertDenials(
    manager: EntityManager,
    pool: PoolEntity,
    denials: { row: LogDenial; app: CatalogAppEntity }[],
    principals: Map<string, string>,
  ): Promise<void> {
    for (let at = 0; at < denials.length; at += WRITE_BATCH) {
      const batch = denials.slice(at, at + WRITE_BATCH);
      // The log's server refused for want of a license: unserved demand, as POOL_EXHAUSTED is here.
      await manager.query(
        `INSERT INTO denials (organization_id, pool_id, app_id, principal_id, team, requested, available, reason, at)
         SELECT $1, $2, u.app_id, u.principal_id, NULL, u.requested, 0, 'POOL_EXHAUSTED', u.at
         FROM unnest($3::uuid[], $4::uuid[], $5::int[], $6::timestamptz[]) AS u(app_id, principal_id, requested, at)`,
        [
          pool.organizationId,
          pool.id,
          batch.map((m) => m.app.id),
          batch.map((m) => principals.get(m.row.user)!),
          batch.map((m) => credits(m.row.count, m.app)),
          batch.map((m) => new Date(m.row.at)),
        ],
      );
    }
  }

  /**
   * Leases recorded before whose end was an estimate: a later log's real end (a check-in), or a
   * later estimate, replaces it, on the lease and its draw. A real end is never replaced.
   */
  private async extend(
    manager: EntityManager,
    pool: PoolEntity,
    ends: { id: string; end: number; estimated: boolean; app: CatalogAppEntity }[],
  ): Promise<number> {
    let changed = 0;
    for (let at = 0; at < ends.length; at += WRITE_BATCH) {
      const batch = ends.slice(at, at + WRITE_BATCH);
      const rows: unknown[] = await manager.query(
        `WITH u AS (SELECT * FROM unnest($2::uuid[], $3::timestamptz[], $4::text[], $5::int[]) AS u(id, e, reason, minimum)),
         l AS (
           UPDATE leases l SET ended_at = u.e, expires_at = u.e, end_reason = u.reason, credit_seconds = l.credits * extract(epoch FROM (u.e - l.acquired_at))
           FROM u WHERE l.id = u.id AND l.pool_id = $1 AND l.end_reason = '${ESTIMATED_REASON}' AND (u.reason = '${IMPORTED_REASON}' OR u.e > l.ended_at)
           RETURNING l.id, l.credits, l.acquired_at, u.e, u.minimum)
         UPDATE lease_draws d SET ended_at = l.e, credit_seconds = l.credits * extract(epoch FROM (l.e - l.acquired_at)),
                charged_credit_seconds = l.credits * greatest(extract(epoch FROM (l.e - l.acquired_at)), l.minimum)
         FROM l WHERE d.id = l.id RETURNING d.id`,
        [
          pool.id,
          batch.map((e) => e.id),
          batch.map((e) => new Date(e.end)),
          batch.map((e) => (e.estimated ? ESTIMATED_REASON : IMPORTED_REASON)),
          batch.map((e) => e.app.minimumChargeSeconds),
        ],
      );
      changed += rows.length;
    }
    return changed;
  }

  /** Check-ins whose checkout an earlier import ended at an estimate: each closes the oldest such lease. Returns how many did. */
  private async closeStrays(
    manager: EntityManager,
    pool: PoolEntity,
    strays: { row: StrayCheckIn; app: CatalogAppEntity }[],
    principals: Map<string, string>,
  ): Promise<number> {
    let closed = 0;
    for (const { row, app } of strays) {
      const [found]: { id: string }[] = await manager.query(
        `SELECT id FROM leases WHERE pool_id = $1 AND app_id = $2 AND principal_id = $3 AND host = $4 AND end_reason = '${ESTIMATED_REASON}'
           AND acquired_at <= $5 AND ended_at <= $5 ORDER BY acquired_at, id LIMIT 1`,
        [pool.id, app.id, principals.get(row.user), row.host, new Date(row.at)],
      );
      if (found && (await this.extend(manager, pool, [{ id: found.id, end: row.at, estimated: false, app }])) > 0) closed += 1;
    }
    return closed;
  }
}

/** The app a feature name means: one that lists it among its externalNames (exactly), else the one whose key it is (any case). */
export function featureMatcher(apps: CatalogAppEntity[]): (feature: string) => CatalogAppEntity | undefined {
  const byName = new Map<string, CatalogAppEntity>();
  const byKey = new Map<string, CatalogAppEntity>();
  for (const app of apps) {
    for (const name of app.externalNames ?? []) if (!byName.has(name)) byName.set(name, app);
    byKey.set(app.key.toLowerCase(), app);
  }
  const memo = new Map<string, CatalogAppEntity | undefined>();
  return (feature) => {
    if (!memo.has(feature)) memo.set(feature, byName.get(feature) ?? byKey.get(feature.toLowerCase()));
    return memo.get(feature);
  };
}

function leaseIdOf(poolId: string, key: string): string {
  return uuidFrom(`license-log|${poolId}|${key}`);
}

function credits(count: number, app: CatalogAppEntity): number {
  return Math.max(1, count) * app.cost;
}

function leaseSeconds(lease: LogLease, pool: PoolEntity): number {
  return Math.max(MIN_LEASE_SECONDS, Math.min(pool.maxLeaseSeconds, Math.ceil((lease.end - lease.start) / 1000)));
}

function dateOrNull(ms: number | null): Date | null {
  return ms === null ? null : new Date(ms);
}
