import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** The cap in force from `at` on; reports read the cap of each instant from here. */
@Entity({ name: 'pool_cap_changes' })
@Index('ix_pool_cap_changes_pool_at', ['poolId', 'at'])
export class PoolCapChangeEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS', primaryKeyConstraintName: 'pk_pool_cap_changes' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('uuid')
  poolId!: string;

  @Column('int')
  cap!: number;

  @Column('timestamptz', { default: () => 'now()' })
  at!: Date;
}
