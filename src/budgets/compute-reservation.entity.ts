import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { OrganizationEntity } from '../organizations/organization.entity';

export type ReservationStateName = 'OPEN' | 'SETTLED' | 'EXPIRED' | 'CANCELLED';

/**
 * A hold on compute budgets, written before the reservation is acknowledged. `holds` are the
 * budget periods Redis held it on ("<budgetId>:<periodKey>"), `seq`, `grantedAt` and `epoch`
 * the Redis grant's counter, clock and state epoch (a grant whose seq is not above one
 * recorded as granted earlier shows a Redis that went back in time).
 */
@Entity({ name: 'compute_reservations' })
@Index('ix_compute_reservations_open', ['expiresAt'], { where: `"state" = 'OPEN'` })
@Index('ix_compute_reservations_organization_seq', ['organizationId', 'seq'])
@Index('ix_compute_reservations_settle_event', ['organizationId', 'settleEventKey'], { where: `"charged"` })
export class ComputeReservationEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_compute_reservations' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'fk_compute_reservations_organization' })
  organization?: OrganizationEntity;

  @Column('uuid')
  principalId!: string;

  @Column('text', { nullable: true })
  team!: string | null;

  @Column('uuid', { nullable: true })
  workUnitId!: string | null;

  @Column('text')
  state!: ReservationStateName;

  @Column('text')
  provider!: string;

  @Column('text')
  model!: string;

  @Column('bigint')
  amountMicros!: string;

  @Column('text', { array: true })
  holds!: string[];

  @Column('bigint')
  seq!: string;

  @Column('bigint')
  epoch!: string;

  /** A digest of the request's arguments, to tell a retry from a reuse of its idempotency key. */
  @Column('text', { nullable: true })
  requestHash!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  /** When Redis granted it, by Redis's clock: with `seq`, what shows a Redis that went back in time. */
  @Column('timestamptz')
  grantedAt!: Date;

  @Column('timestamptz')
  expiresAt!: Date;

  @Column('timestamptz', { nullable: true })
  endedAt!: Date | null;

  /** The ledger event key (compute:<eventId>) it was settled with. */
  @Column('text', { nullable: true })
  settleEventKey!: string | null;

  @Column('bigint', { nullable: true })
  settledCostMicros!: string | null;

  /** True when the settlement wrote the ledger row, so its cost is charged through the reservation. */
  @Column('boolean', { default: false })
  charged!: boolean;
}
