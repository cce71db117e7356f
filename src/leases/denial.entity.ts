import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type DenialReason = 'POOL_EXHAUSTED' | 'GROUP_LIMIT_REACHED' | 'QUEUE_TIMEOUT';

/** A refused check-out, kept for right-sizing reports. */
@Entity({ name: 'denials' })
@Index('ix_denials_pool_at', ['organizationId', 'poolId', 'at', 'id'])
export class DenialEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS', primaryKeyConstraintName: 'pk_denials' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('uuid')
  poolId!: string;

  @Column('uuid')
  appId!: string;

  @Column('uuid')
  principalId!: string;

  @Column('text', { nullable: true })
  team!: string | null;

  @Column('int')
  requested!: number;

  @Column('int')
  available!: number;

  @Column('text')
  reason!: DenialReason;

  @Column('timestamptz', { default: () => 'now()' })
  at!: Date;
}
