import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import { numericColumn } from '../common/database/numeric-column';

/**
 * One ended draw: the credits one lease (or several sharing leases, plus linger) held from
 * the first lease's start to the last one's end. Written once, when the lease store reports
 * the draw ended (or the reconciliation finds it ended and unreported), in the same
 * transaction as its LICENSE ledger row; the reports read pool usage from here. A draw
 * still held has no row yet: its leases are in `leases`.
 */
@Entity({ name: 'lease_draws' })
@Index('ix_lease_draws_pool_opened', ['poolId', 'openedAt'])
@Index('ix_lease_draws_pool_ended', ['poolId', 'endedAt'])
@Index('ix_lease_draws_organization_ended', ['organizationId', 'endedAt'])
export class LeaseDrawEntity {
  /** The draw id the lease store gave it (leases.draw_id). */
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_lease_draws' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('uuid')
  poolId!: string;

  @Column('uuid')
  appId!: string;

  /** The lease that opened the draw and is charged for it. */
  @Column('uuid')
  openerLeaseId!: string;

  @Column('uuid')
  principalId!: string;

  @Column('uuid', { nullable: true })
  workUnitId!: string | null;

  @Column('text', { nullable: true })
  team!: string | null;

  /** The app's cost when the draw opened: the credits it held in the pool. */
  @Column('int')
  credits!: number;

  @Column('timestamptz')
  openedAt!: Date;

  /** When the credits came back: the last lease's end, plus linger. */
  @Column('timestamptz')
  endedAt!: Date;

  /** Credits times held seconds. */
  @Column('numeric', { precision: 20, scale: 3, transformer: numericColumn })
  creditSeconds!: number;

  /** Credits times the seconds charged: the held seconds, or the app's minimum charge if longer. */
  @Column('numeric', { precision: 20, scale: 3, transformer: numericColumn })
  chargedCreditSeconds!: number;

  /** Credits times the held seconds during which every live lease of the draw reported its user idle. */
  @Column('numeric', { precision: 20, scale: 3, transformer: numericColumn })
  idleCreditSeconds!: number;

  /** How the draw's end was learnt: 'stream' (the lease store's event), 'reconciled' or 'imported'. */
  @Column('text')
  source!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  recordedAt!: Date;
}
