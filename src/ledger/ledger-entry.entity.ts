import { Column, Entity, PrimaryColumn } from 'typeorm';

export type LedgerKind = 'LICENSE' | 'COMPUTE' | 'CORRECTION';
export type LedgerMeter = 'LICENSE' | 'COMPUTE';
export type CostSource = 'CALLER' | 'PRICE_TABLE' | 'UNPRICED';

/**
 * One append-only row of consumption: license credit-seconds or compute tokens, with the
 * price used and the cost. The table is hand-written SQL in migration UsageLedger, because
 * TypeORM can describe neither what makes it a ledger nor what keeps it fast:
 * - it is partitioned by month on occurred_at (so the primary key is (id, occurred_at)),
 *   with a default partition and ledger_ensure_partitions() to add months ahead;
 * - triggers refuse every UPDATE, DELETE and TRUNCATE, and a statement trigger adds each
 *   insert's rows to work_unit_totals in the same statement.
 * `synchronize: false` keeps this entity out of schema sync and migration generation, which
 * would otherwise try to recreate the partitioned table as a plain one; a test compares its
 * columns with the table's instead. The application writes rows only through LedgerWriter.
 *
 * Reading rules for reports: quantities of a COMPUTE or LICENSE row are never repeated on
 * the CORRECTION rows that price it later (their quantities are 0), so summing every row of
 * a meter gives both the quantities and the cost. `meter` says which consumption a row
 * prices; a CORRECTION carries the meter, work unit, principal, occurred_at, provider and
 * model of the row it corrects.
 */
@Entity({ name: 'ledger_entries', synchronize: false })
export class LedgerEntryEntity {
  @PrimaryColumn('bigint')
  id!: string;

  @PrimaryColumn('timestamptz')
  occurredAt!: Date;

  @Column('uuid')
  organizationId!: string;

  /** compute:<eventId>, draw:<drawId> or correction:<entryId>; unique per organization in ledger_event_keys. */
  @Column('text')
  eventKey!: string;

  @Column('text')
  kind!: LedgerKind;

  @Column('text')
  meter!: LedgerMeter;

  @Column('uuid', { nullable: true })
  workUnitId!: string | null;

  /** The lease holder (license) or the principal of the key that reported the usage (compute). */
  @Column('uuid', { nullable: true })
  principalId!: string | null;

  /** License rows: when the draw started (occurred_at is when it ended). */
  @Column('timestamptz', { nullable: true })
  startedAt!: Date | null;

  @Column('timestamptz')
  recordedAt!: Date;

  @Column('numeric')
  creditSeconds!: string;

  @Column('numeric')
  idleCreditSeconds!: string;

  @Column('bigint')
  inputTokens!: string;

  @Column('bigint')
  cachedInputTokens!: string;

  @Column('bigint')
  outputTokens!: string;

  @Column('bigint')
  reasoningTokens!: string;

  @Column('numeric', { nullable: true })
  creditHourPrice!: string | null;

  @Column('numeric', { nullable: true })
  inputPricePerMillion!: string | null;

  @Column('numeric', { nullable: true })
  cachedInputPricePerMillion!: string | null;

  @Column('numeric', { nullable: true })
  outputPricePerMillion!: string | null;

  /** The model_prices version used (compute rows priced from the table, and their corrections). */
  @Column('bigint', { nullable: true })
  modelPriceId!: string | null;

  /** In `currency`; null exactly when cost_source is UNPRICED. */
  @Column('numeric', { nullable: true })
  cost!: string | null;

  @Column('char', { length: 3 })
  currency!: string;

  @Column('text')
  costSource!: CostSource;

  @Column('uuid', { nullable: true })
  leaseId!: string | null;

  @Column('uuid', { nullable: true })
  drawId!: string | null;

  @Column('uuid', { nullable: true })
  poolId!: string | null;

  @Column('uuid', { nullable: true })
  appId!: string | null;

  @Column('text', { nullable: true })
  provider!: string | null;

  @Column('text', { nullable: true })
  model!: string | null;

  @Column('bigint', { nullable: true })
  correctsEntryId!: string | null;

  // tx_id (xid8): the writing transaction's id, set by the column's default, which decides the
  // seal that covers the row (src/ledger-seals/). TypeORM has no xid8 type: the seals read it
  // in SQL, and the application never writes it.
}
