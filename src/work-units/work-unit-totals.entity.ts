import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { numericColumn } from '../common/database/numeric-column';

/**
 * Running sums of a work unit's ledger rows. Written only by the statement trigger on
 * ledger_entries (migration UsageLedger), in the same statement as the rows it adds, so the
 * totals are always the sum of the rows; nothing in the application writes here.
 */
@Entity({ name: 'work_unit_totals' })
@Index('ix_work_unit_totals_organization', ['organizationId'])
@Index('ix_work_unit_totals_organization_last_day', ['organizationId', 'lastDay'])
export class WorkUnitTotalsEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_work_unit_totals' })
  workUnitId!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('numeric', { precision: 24, scale: 3, default: 0, transformer: numericColumn })
  licenseCreditSeconds!: number;

  @Column('numeric', { precision: 24, scale: 3, default: 0, transformer: numericColumn })
  licenseIdleCreditSeconds!: number;

  @Column('bigint', { default: 0, transformer: numericColumn })
  computeInputTokens!: number;

  @Column('bigint', { default: 0, transformer: numericColumn })
  computeCachedInputTokens!: number;

  @Column('bigint', { default: 0, transformer: numericColumn })
  computeOutputTokens!: number;

  @Column('bigint', { default: 0, transformer: numericColumn })
  computeReasoningTokens!: number;

  @Column('numeric', { precision: 28, scale: 9, default: 0, transformer: numericColumn })
  licenseCost!: number;

  @Column('numeric', { precision: 28, scale: 9, default: 0, transformer: numericColumn })
  computeCost!: number;

  @Column('bigint', { default: 0, transformer: numericColumn })
  entries!: number;

  /** UTC day (YYYY-MM-DD) of the work unit's first ledger row (migration LedgerUsageRollups); the outcome reports read it. */
  @Column('date')
  firstDay!: string;

  /** UTC day of its last ledger row. */
  @Column('date')
  lastDay!: string;
}
