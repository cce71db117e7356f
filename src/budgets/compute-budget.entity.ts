import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { OrganizationEntity } from '../organizations/organization.entity';

export type BudgetScopeName = 'ORGANIZATION' | 'TEAM' | 'PRINCIPAL' | 'WORK_UNIT';
export type BudgetPeriodName = 'DAY' | 'MONTH' | 'TOTAL';

/**
 * A spending limit on compute. Its live figures (spent and reserved per period) live in
 * Redis (lease-engine/budget-store.ts) and are rebuilt from the ledger and the reservations
 * when Redis loses them; this row holds what an admin set.
 */
@Entity({ name: 'compute_budgets' })
@Index('uq_compute_budgets_organization_name', ['organizationId', 'name'], { unique: true })
export class ComputeBudgetEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_compute_budgets' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'fk_compute_budgets_organization' })
  organization?: OrganizationEntity;

  @Column('text')
  name!: string;

  @Column('text')
  scope!: BudgetScopeName;

  @Column('text', { nullable: true })
  team!: string | null;

  @Column('uuid', { nullable: true })
  principalId!: string | null;

  @Column('uuid', { nullable: true })
  workUnitId!: string | null;

  @Column('text')
  period!: BudgetPeriodName;

  /** Micro-units of the organization's currency (bigint: read as a string). */
  @Column('bigint')
  limitMicros!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
