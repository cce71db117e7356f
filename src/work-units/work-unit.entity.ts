import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { OrganizationEntity } from '../organizations/organization.entity';
import type { OrgUnitKind } from '../principals/principal.entity';
import { nullableNumericColumn } from '../common/database/numeric-column';

export type OutcomeStatus = 'PENDING' | 'ACCEPTED' | 'REJECTED';
export type ValueDimension = 'REVENUE' | 'MARGIN' | 'LOSS_AVOIDED' | 'THROUGHPUT' | 'QUALITY' | 'CYCLE_TIME' | 'RESILIENCE' | 'STRATEGIC';

/** numeric columns come back from pg as strings; read them as numbers (null stays null). */

/**
 * One piece of business work that leases and compute usage are charged to. The outcome
 * columns hold the current outcome; work_unit_outcomes keeps every version of it.
 */
@Entity({ name: 'work_units' })
@Index('uq_work_units_organization_external_ref', ['organizationId', 'externalRef'], { unique: true })
@Index('ix_work_units_organization_created', ['organizationId', 'createdAt', 'id'])
export class WorkUnitEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_work_units' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'fk_work_units_organization' })
  organization?: OrganizationEntity;

  /** The caller's own id for the work (a ticket, an order, a run): the upsert key. */
  @Column('text')
  externalRef!: string;

  @Column('text', { nullable: true })
  owner!: string | null;

  @Column('text', { nullable: true })
  team!: string | null;

  @Column('text', { nullable: true })
  process!: string | null;

  @Column('text', { nullable: true })
  task!: string | null;

  @Column('text')
  orgUnitKind!: OrgUnitKind;

  @Column('text', { default: 'PENDING' })
  outcome!: OutcomeStatus;

  @Column('text', { nullable: true })
  qualityResult!: string | null;

  @Column('boolean', { nullable: true })
  humanReviewed!: boolean | null;

  @Column('text', { nullable: true })
  decision!: string | null;

  @Column('text', { nullable: true })
  valueDimension!: ValueDimension | null;

  @Column('numeric', { precision: 24, scale: 6, nullable: true, transformer: nullableNumericColumn })
  valueAmount!: number | null;

  @Column('numeric', { precision: 5, scale: 4, nullable: true, transformer: nullableNumericColumn })
  evidenceConfidence!: number | null;

  @Column('timestamptz', { nullable: true })
  outcomeRecordedAt!: Date | null;

  /** Who created it (a key's principal, or the OTLP sender when a span named it first). */
  @Column('uuid')
  createdByPrincipalId!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
