import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** A stretch of a lease during which its holder reported no user activity (from heartbeats). */
@Entity({ name: 'lease_idle_intervals' })
@Index('ix_lease_idle_intervals_pool_started', ['organizationId', 'poolId', 'startedAt'])
@Index('ix_lease_idle_intervals_lease', ['leaseId'])
export class LeaseIdleIntervalEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS', primaryKeyConstraintName: 'pk_lease_idle_intervals' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('uuid')
  poolId!: string;

  @Column('uuid')
  leaseId!: string;

  @Column('timestamptz')
  startedAt!: Date;

  @Column('timestamptz')
  endedAt!: Date;
}
