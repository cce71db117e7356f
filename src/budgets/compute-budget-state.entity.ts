import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { OrganizationEntity } from '../organizations/organization.entity';

/**
 * The epoch of an organization's budget state in Redis: raised by every rebuild. A write that
 * Redis must see (a reservation, a settlement, usage, a budget change) share-locks this row and
 * passes its epoch to Redis, which ignores it under another epoch; a rebuild locks it
 * exclusively, so it reads every write committed before and none after.
 */
@Entity({ name: 'compute_budget_states' })
export class ComputeBudgetStateEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_compute_budget_states' })
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'fk_compute_budget_states_organization' })
  organization?: OrganizationEntity;

  @Column('bigint', { default: 0 })
  epoch!: string;
}
