import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';

/** A correction row written for an unpriced compute row: its cost (micro-units), and whose usage it prices. */
export interface Correction {
  costMicros: number;
  principalId: string;
  workUnitId: string | null;
  occurredAt: Date;
}

/** One validated compute event, ready for the ledger. */
export interface ComputeRow {
  /** compute:<eventId> */
  eventKey: string;
  contentHash: string;
  workUnitId: string | null;
  provider: string;
  model: string;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  /** The caller's cost, or null to price it from the model price table. */
  cost: number | null;
  occurredAt: Date;
}

export interface ComputeBatch {
  organizationId: string;
  /** The principal of the key that reported the usage. */
  principalId: string;
  /** Distinct event keys: a key twice in one batch would write two rows under one id. */
  rows: ComputeRow[];
}

// Model price lookups and price corrections exclude each other per organization: a batch
// prices its rows under the shared lock, setModelPrice corrects unpriced rows under the
// exclusive one, so no row can be written unpriced after the correction that should have
// seen it. (Two int4 keys: this class and a hash of the organization.)
const PRICING_LOCK_CLASS = 7_246_152;

/** The price in force for row e at e.occurred_at: the latest effective_from at or before it. */
const PRICE_IN_FORCE = `
  SELECT mp.id, mp.input_per_million, mp.cached_input_per_million, mp.output_per_million
  FROM model_prices mp
  WHERE mp.organization_id = $1 AND mp.provider = e.provider AND mp.model = e.model AND mp.effective_from <= e.occurred_at
  ORDER BY mp.effective_from DESC, mp.id DESC
  LIMIT 1`;

const COST = `(e.input_tokens - e.cached_input_tokens) * p.input_per_million / 1e6
            + e.cached_input_tokens * p.cached_input_per_million / 1e6
            + e.output_tokens * p.output_per_million / 1e6`;

// One statement per batch: unnest the columns, insert the idempotency keys (new ones come
// back), insert a ledger row for each new key, priced from the table in force at its
// occurred_at unless the caller gave a cost. Returns the keys that were new, with their cost in
// micro-units, rounded here as every sum of the budgets rounds it.
const APPEND_COMPUTE = `
  WITH e AS (
    SELECT * FROM unnest($3::text[], $4::text[], $5::uuid[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[],
                         $12::numeric[], $13::timestamptz[])
      AS e(event_key, content_hash, work_unit_id, provider, model, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost, occurred_at)
  ), k AS (
    INSERT INTO ledger_event_keys (organization_id, event_key, entry_id, occurred_at, content_hash)
    SELECT $1, e.event_key, nextval('ledger_entries_id_seq'), e.occurred_at, e.content_hash FROM e
    ON CONFLICT (organization_id, event_key) DO NOTHING
    RETURNING event_key, entry_id
  ), w AS (
    INSERT INTO ledger_entries (id, organization_id, event_key, kind, meter, work_unit_id, principal_id, occurred_at,
                                input_tokens, cached_input_tokens, output_tokens, reasoning_tokens,
                                input_price_per_million, cached_input_price_per_million, output_price_per_million, model_price_id,
                                cost, currency, cost_source, provider, model)
    SELECT k.entry_id, $1, e.event_key, 'COMPUTE', 'COMPUTE', e.work_unit_id, $2, e.occurred_at,
           e.input_tokens, e.cached_input_tokens, e.output_tokens, e.reasoning_tokens,
           p.input_per_million, p.cached_input_per_million, p.output_per_million, p.id,
           coalesce(e.cost, ${COST}),
           (SELECT currency FROM organizations WHERE id = $1),
           CASE WHEN e.cost IS NOT NULL THEN 'CALLER' WHEN p.id IS NOT NULL THEN 'PRICE_TABLE' ELSE 'UNPRICED' END,
           e.provider, e.model
    FROM e JOIN k ON k.event_key = e.event_key
    LEFT JOIN LATERAL (${PRICE_IN_FORCE}) p ON e.cost IS NULL
    RETURNING event_key, cost
  )
  SELECT event_key, round(cost * 1000000)::float8 AS micros FROM w`;

// The unpriced compute rows of one model from $4 on that now have a price in force and no
// correction yet get one: a CORRECTION row with the cost (quantities 0, so sums count the
// tokens once) pointing at the row. The key correction:<id> makes it at most one per row.
const APPEND_CORRECTIONS = `
  WITH c AS (
    SELECT e.id, e.occurred_at, e.work_unit_id, e.principal_id, e.currency, e.provider, e.model,
           p.id AS price_id, p.input_per_million, p.cached_input_per_million, p.output_per_million, ${COST} AS cost
    FROM ledger_entries e
    JOIN LATERAL (${PRICE_IN_FORCE}) p ON true
    WHERE e.organization_id = $1 AND e.provider = $2 AND e.model = $3 AND e.cost_source = 'UNPRICED' AND e.kind = 'COMPUTE'
      AND e.occurred_at >= $4
      AND NOT EXISTS (SELECT 1 FROM ledger_event_keys x WHERE x.organization_id = $1 AND x.event_key = 'correction:' || e.id)
  ), k AS (
    INSERT INTO ledger_event_keys (organization_id, event_key, entry_id, occurred_at, content_hash)
    SELECT $1, 'correction:' || c.id, nextval('ledger_entries_id_seq'), c.occurred_at, c.price_id::text FROM c
    ON CONFLICT (organization_id, event_key) DO NOTHING
    RETURNING event_key, entry_id
  )
  INSERT INTO ledger_entries (id, organization_id, event_key, kind, meter, work_unit_id, principal_id, occurred_at,
                              input_price_per_million, cached_input_price_per_million, output_price_per_million, model_price_id,
                              cost, currency, cost_source, provider, model, corrects_entry_id)
  SELECT k.entry_id, $1, k.event_key, 'CORRECTION', 'COMPUTE', c.work_unit_id, c.principal_id, c.occurred_at,
         c.input_per_million, c.cached_input_per_million, c.output_per_million, c.price_id,
         c.cost, c.currency, 'PRICE_TABLE', c.provider, c.model, c.id
  FROM c JOIN k ON k.event_key = 'correction:' || c.id
  RETURNING round(cost * 1000000)::float8 AS micros, principal_id, work_unit_id, occurred_at`;

/**
 * The compute side of the ledger's writes: batches of compute events and the correction
 * rows a backdated price adds. Every method runs in the caller's transaction.
 */
@Injectable()
export class ComputeLedgerWriter {
  /**
   * Appends the batch's new events; returns the event keys that were new (the others were
   * recorded before), each with the cost recorded in micro-units (null: unpriced).
   */
  async appendCompute(manager: EntityManager, batch: ComputeBatch): Promise<Map<string, number | null>> {
    if (batch.rows.length === 0) return new Map();
    await manager.query('SELECT pg_advisory_xact_lock_shared($1, hashtext($2))', [PRICING_LOCK_CLASS, batch.organizationId]);
    const r = batch.rows;
    const rows: { event_key: string; micros: number | null }[] = await manager.query(APPEND_COMPUTE, [
      batch.organizationId,
      batch.principalId,
      r.map((x) => x.eventKey),
      r.map((x) => x.contentHash),
      r.map((x) => x.workUnitId),
      r.map((x) => x.provider),
      r.map((x) => x.model),
      r.map((x) => x.inputTokens),
      r.map((x) => x.cachedInputTokens),
      r.map((x) => x.outputTokens),
      r.map((x) => x.reasoningTokens),
      r.map((x) => x.cost),
      r.map((x) => x.occurredAt.toISOString()),
    ]);
    return new Map(rows.map((row) => [row.event_key, row.micros]));
  }

  /** The content hashes recorded for these event keys (those that exist). */
  async recordedHashes(manager: EntityManager, organizationId: string, eventKeys: string[]): Promise<Map<string, string>> {
    if (eventKeys.length === 0) return new Map();
    const rows: { event_key: string; content_hash: string }[] = await manager.query(
      'SELECT event_key, content_hash FROM ledger_event_keys WHERE organization_id = $1 AND event_key = ANY($2::text[])',
      [organizationId, eventKeys],
    );
    return new Map(rows.map((row) => [row.event_key, row.content_hash]));
  }

  /**
   * Prices the unpriced rows of one model that occurred at or after `from` and now have a
   * price in force, with correction rows; returns the corrections it wrote. Call it in the
   * transaction that inserted the price.
   */
  async appendCorrections(manager: EntityManager, target: { organizationId: string; provider: string; model: string; from: Date }): Promise<Correction[]> {
    await manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [PRICING_LOCK_CLASS, target.organizationId]);
    const rows: { micros: number; principal_id: string; work_unit_id: string | null; occurred_at: Date }[] = await manager.query(APPEND_CORRECTIONS, [
      target.organizationId,
      target.provider,
      target.model,
      target.from,
    ]);
    return rows.map((r) => ({ costMicros: r.micros, principalId: r.principal_id, workUnitId: r.work_unit_id, occurredAt: r.occurred_at }));
  }
}
