import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { OutcomeStatus, ValueDimension } from './work-unit.entity';
import { nullableNumericColumn } from '../common/database/numeric-column';

/**
 * Every outcome ever recorded for a work unit: when, by whom, what it was before and what it
 * became (the flattened columns). Reports read the outcome as of a date from here, through
 * the SQL function work_unit_outcomes_as_of(organization, at) (see OutcomesService).
 */
@Entity({ name: 'work_unit_outcomes' })
@Index('ix_work_unit_outcomes_unit_recorded', ['organizationId', 'workUnitId', 'recordedAt', 'id'])
@Index('ix_work_unit_outcomes_organization_recorded', ['organizationId', 'recordedAt'])
export class WorkUnitOutcomeEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS', primaryKeyConstraintName: 'pk_work_unit_outcomes' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('uuid')
  workUnitId!: string;

  @Column('timestamptz', { default: () => 'now()' })
  recordedAt!: Date;

  @Column('uuid')
  recordedByPrincipalId!: string;

  /** The outcome before this record, as JSON; null for the first one. */
  @Column('jsonb', { nullable: true })
  before!: object | null;

  @Column('text')
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
}
