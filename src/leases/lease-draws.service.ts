import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { LedgerWriter } from '../ledger/ledger-writer';
import { heldWhileIdleMs, LiveSpan } from './draw-idle';

export type DrawSource = 'stream' | 'reconciled' | 'imported';

/** A draw whose credits came back, as the lease store (or the reconciliation, or an import) reports it. */
export interface EndedDraw {
  drawId: string;
  appId: string;
  openerLeaseId: string;
  /** The credits the draw held. */
  cost: number;
  openedAt: Date;
  endedAt: Date;
  source: DrawSource;
}

// A draw whose leases all ended this long ago (after its linger) and that the lease store
// never reported is recorded by the reconciliation even if the store seems to hold it still.
const RECONCILE_AFTER = '5 minutes';
// Look back this far for unreported draws; older ones were reconciled by earlier runs.
const RECONCILE_LOOKBACK = '7 days';
const RECONCILE_BATCH = 500;

/** A draw PostgreSQL shows ended with no row yet; `overdue` once it ended RECONCILE_AFTER ago. */
export interface UnreportedDraw extends EndedDraw {
  overdue: boolean;
}

interface SpanRow {
  acquired_at: Date;
  ended_at: Date | null;
  expires_at: Date;
  idle_started_at: Date | null;
  idle_ended_at: Date | null;
  lease_id: string;
}

interface RecordedDraw {
  organization_id: string;
  pool_id: string;
  principal_id: string;
  work_unit_id: string | null;
  charged_credit_seconds: string;
  idle_credit_seconds: string;
  credit_hour_price: string | null;
}

/**
 * Records ended draws: exactly one `lease_draws` row per draw, whoever reports it first
 * (the stream, the reconciliation or a history import), with the credit-seconds it held,
 * the charged credit-seconds (at least the app's minimum charge) and the idle part, and in
 * the same transaction its LICENSE row in the usage ledger, charged to the opener's work
 * unit at the pool's price per credit-hour.
 */
@Injectable()
export class LeaseDrawsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerWriter,
  ) {}

  /**
   * Records one ended draw in the caller's transaction (or a transaction of its own).
   * Returns false when the draw was already recorded, or when its opener lease was never
   * recorded (a grant that crashed before PostgreSQL: no client heard of it, so nothing is
   * charged).
   */
  async record(draw: EndedDraw, manager?: EntityManager): Promise<boolean> {
    if (!manager) return this.dataSource.transaction((m) => this.record(draw, m));
    const idleMs = await this.idleMs(manager, draw);
    // Reads the apps and pools tables in the same statement, by design: the charge takes the
    // app's minimum charge and the pool's price as they stand when the draw is recorded, with
    // no window between reading the catalog and writing the charge (a read through the catalog
    // services first could charge a draw at a price changed in between). Read-only on both.
    const rows: RecordedDraw[] = await manager.query(
      `INSERT INTO lease_draws (id, organization_id, pool_id, app_id, opener_lease_id, principal_id, work_unit_id, team, credits,
                                opened_at, ended_at, credit_seconds, charged_credit_seconds, idle_credit_seconds, source)
       SELECT $1, l.organization_id, l.pool_id, a.id, l.id, l.principal_id, l.work_unit_id, l.team, $4::int, $5::timestamptz, $6::timestamptz,
              $4::int * s.held, $4::int * greatest(s.held, a.minimum_charge_seconds), $4::int * $7::numeric / 1000, $8
       FROM leases l JOIN apps a ON a.id = $2 AND a.organization_id = l.organization_id
            CROSS JOIN LATERAL (SELECT greatest(0, extract(epoch FROM ($6::timestamptz - $5::timestamptz))) AS held) s
       -- Only the draw its opener holds: an undone attempt's draw (its record failed, the client
       -- never heard of it) ends under another id and is charged to nobody.
       WHERE l.id = $3 AND (l.draw_id IS NULL OR l.draw_id = $1)
       ON CONFLICT (id) DO NOTHING
       RETURNING organization_id, pool_id, principal_id, work_unit_id, charged_credit_seconds, idle_credit_seconds,
                 (SELECT credit_hour_price FROM pools WHERE id = pool_id) AS credit_hour_price`,
      [draw.drawId, draw.appId, draw.openerLeaseId, draw.cost, draw.openedAt, draw.endedAt, idleMs, draw.source],
    );
    if (rows.length === 0) return false;
    const row = rows[0];
    await this.ledger.appendLicense(manager, {
      organizationId: row.organization_id,
      drawId: draw.drawId,
      leaseId: draw.openerLeaseId,
      poolId: row.pool_id,
      appId: draw.appId,
      principalId: row.principal_id,
      workUnitId: row.work_unit_id,
      startedAt: draw.openedAt,
      endedAt: draw.endedAt,
      creditSeconds: Number(row.charged_credit_seconds),
      idleCreditSeconds: Number(row.idle_credit_seconds),
      creditHourPrice: row.credit_hour_price === null ? null : Number(row.credit_hour_price),
    });
    return true;
  }

  /**
   * Draws that ended but were never reported, as PostgreSQL sees them: every lease of the
   * draw ended, its linger is over, and no row exists (its draw_ended event is still in the
   * stream, was lost with Redis's data, or the leases expired while the pool's Redis state
   * was gone). `overdue`: it ended over RECONCILE_AFTER ago, so a report would have come.
   * At most RECONCILE_BATCH, the oldest first; the next pass takes the rest.
   */
  async unreported(poolId: string): Promise<UnreportedDraw[]> {
    // Joins apps for the linger of each draw's app, in the one query that finds the ended draws.
    const rows: { draw_id: string; app_id: string; opener: string; credits: number; opened_at: Date; ended_at: Date; overdue: boolean }[] =
      await this.dataSource.query(
        `SELECT o.draw_id, o.app_id, o.id AS opener, o.credits, min(l.acquired_at) AS opened_at,
              max(l.ended_at) + make_interval(secs => a.linger_seconds) AS ended_at,
              max(l.ended_at) + make_interval(secs => a.linger_seconds) < now() - interval '${RECONCILE_AFTER}' AS overdue
       FROM leases o
       JOIN apps a ON a.id = o.app_id
       JOIN leases l ON l.draw_id = o.draw_id
       WHERE o.pool_id = $1 AND o.credits > 0 AND o.state <> 'ACTIVE'
         AND o.ended_at > now() - interval '${RECONCILE_LOOKBACK}'
         AND NOT EXISTS (SELECT 1 FROM lease_draws d WHERE d.id = o.draw_id)
       GROUP BY o.draw_id, o.app_id, o.id, o.credits, a.linger_seconds
       HAVING bool_and(l.state <> 'ACTIVE') AND max(l.ended_at) + make_interval(secs => a.linger_seconds) < now()
       ORDER BY max(l.ended_at)
       LIMIT ${RECONCILE_BATCH}`,
        [poolId],
      );
    return rows.map((r) => ({
      drawId: r.draw_id,
      appId: r.app_id,
      openerLeaseId: r.opener,
      cost: r.credits,
      openedAt: r.opened_at,
      endedAt: r.ended_at,
      source: 'reconciled',
      overdue: r.overdue,
    }));
  }

  /** Records each draw (once, as `record` does); returns how many were new. */
  async recordAll(draws: readonly EndedDraw[]): Promise<number> {
    let recorded = 0;
    for (const draw of draws) {
      if (await this.record(draw)) recorded += 1;
    }
    return recorded;
  }

  /**
   * Records the unreported draws that ended over RECONCILE_AFTER ago, without asking the
   * lease store (the worker's sweep asks it, and records the others at once; see
   * LeaseReconciliationService). Returns how many it recorded.
   */
  async reconcile(poolId: string): Promise<number> {
    return this.recordAll((await this.unreported(poolId)).filter((d) => d.overdue));
  }

  /** Milliseconds of the draw during which it had live leases and all of them reported idle. */
  private async idleMs(manager: EntityManager, draw: EndedDraw): Promise<number> {
    const rows: SpanRow[] = await manager.query(
      `SELECT l.id AS lease_id, l.acquired_at, l.ended_at, l.expires_at, i.started_at AS idle_started_at, i.ended_at AS idle_ended_at
       FROM leases l LEFT JOIN lease_idle_intervals i ON i.lease_id = l.id
       WHERE l.draw_id = $1`,
      [draw.drawId],
    );
    const spans = new Map<string, LiveSpan>();
    for (const r of rows) {
      let span = spans.get(r.lease_id);
      if (!span) {
        span = { start: r.acquired_at.getTime(), end: (r.ended_at ?? r.expires_at).getTime(), idle: [] };
        spans.set(r.lease_id, span);
      }
      if (r.idle_started_at && r.idle_ended_at) span.idle.push({ start: r.idle_started_at.getTime(), end: r.idle_ended_at.getTime() });
    }
    return heldWhileIdleMs([...spans.values()], draw.openedAt.getTime(), draw.endedAt.getTime());
  }
}
