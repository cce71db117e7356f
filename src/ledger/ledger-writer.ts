/**
 * LedgerWriter.appendLicense(manager: EntityManager, charge: LicenseCharge): Promise<boolean>
 *
 * Charges one ended draw to the ledger, inside the caller's transaction (`manager` is the
 * transaction's EntityManager): one statement inserts the idempotency key `draw:<drawId>`
 * and, only if that key is new, the LICENSE row. Returns true when the row was written and
 * false when the draw had been charged already (a replayed expiry event, a lease restored
 * after Redis lost its data): exactly one LICENSE row per draw, whatever the caller retries.
 * The first charge wins; a later one with other figures is not recorded.
 *
 * The row's cost is creditSeconds / 3600 x creditHourPrice in the organization's currency,
 * cost_source PRICE_TABLE; with no price (null) it is kept with cost null, UNPRICED. The
 * work unit's totals move in the same statement (a trigger). The caller applies the app's
 * minimum charge before calling; figures are rounded to milliseconds of credit-seconds.
 */
import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';

export interface LicenseCharge {
  organizationId: string;
  drawId: string;
  /** The lease that opened the draw: its holder and work unit are charged. */
  leaseId: string;
  poolId: string;
  appId: string;
  principalId: string;
  workUnitId: string | null;
  /** When the draw was first held. */
  startedAt: Date;
  /** When the draw ended (its last lease ended and any linger was over): the row's occurred_at. */
  endedAt: Date;
  /** Credit-seconds charged, the app's minimum charge already applied; >= 0. */
  creditSeconds: number;
  /** The part of creditSeconds its holder reported idle; >= 0. */
  idleCreditSeconds: number;
  /** The pool's price of one credit-hour, or null when it has none. */
  creditHourPrice: number | null;
}

const APPEND_LICENSE = `
  WITH key AS (
    INSERT INTO ledger_event_keys (organization_id, event_key, entry_id, occurred_at, content_hash)
    VALUES ($1, $2, nextval('ledger_entries_id_seq'), $3, $4)
    ON CONFLICT (organization_id, event_key) DO NOTHING
    RETURNING entry_id
  )
  INSERT INTO ledger_entries (id, organization_id, event_key, kind, meter, work_unit_id, principal_id, occurred_at, started_at,
                              credit_seconds, idle_credit_seconds, credit_hour_price, cost, currency, cost_source,
                              lease_id, draw_id, pool_id, app_id)
  SELECT key.entry_id, $1, $2, 'LICENSE', 'LICENSE', $5, $6, $3, $7,
         round($8::numeric, 3), round($9::numeric, 3), $10::numeric, round($8::numeric, 3) * $10::numeric / 3600,
         (SELECT currency FROM organizations WHERE id = $1),
         CASE WHEN $10::numeric IS NULL THEN 'UNPRICED' ELSE 'PRICE_TABLE' END,
         $11, $12, $13, $14
  FROM key
  RETURNING id`;

@Injectable()
export class LedgerWriter {
  async appendLicense(manager: EntityManager, charge: LicenseCharge): Promise<boolean> {
    const eventKey = `draw:${charge.drawId}`;
    const rows: { id: string }[] = await manager.query(APPEND_LICENSE, [
      charge.organizationId,
      eventKey,
      charge.endedAt,
      contentHash(charge),
      charge.workUnitId,
      charge.principalId,
      charge.startedAt,
      charge.creditSeconds,
      charge.idleCreditSeconds,
      charge.creditHourPrice,
      charge.leaseId,
      charge.drawId,
      charge.poolId,
      charge.appId,
    ]);
    return rows.length === 1;
  }
}

function contentHash(charge: LicenseCharge): string {
  const { startedAt, endedAt, ...rest } = charge;
  return createHash('sha256')
    .update(JSON.stringify({ ...rest, startedAt: startedAt.toISOString(), endedAt: endedAt.toISOString() }))
    .digest('base64url')
    .slice(0, 22);
}
