import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * Idempotency for the ledger: one row per charged event, forever. A unique index on the
 * ledger itself cannot span its monthly partitions, so the key lives here and is inserted
 * first (ON CONFLICT DO NOTHING) in the same statement as the row it guards. Keys:
 * compute:<eventId>, draw:<drawId>, correction:<corrected entry id>. Append-only, like the
 * ledger (triggers in migration UsageLedger).
 */
@Entity({ name: 'ledger_event_keys' })
export class LedgerEventKeyEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_ledger_event_keys' })
  organizationId!: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_ledger_event_keys' })
  eventKey!: string;

  /** The ledger row written for the key (with occurred_at, its full primary key). */
  @Column('bigint')
  entryId!: string;

  @Column('timestamptz')
  occurredAt!: Date;

  /** Hash of the event's content, to tell a replay (same content) from a conflict (other content). */
  @Column('text')
  contentHash!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
