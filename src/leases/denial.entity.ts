import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type DenialReason = 'POOL_EXHAUSTED' | 'GROUP_LIMIT_REACHED' | 'QUEUE_TIMEOUT';

/**
 * Refused check-outs, kept for right-sizing reports: one row counts the refusals of one
 * principal, app, pool and reason within one DENIAL_COALESCE_SECONDS window (`count`, from
 * `at` to `lastAt`), so a flood of refusals adds rows at a bounded rate.
 */
@Entity({ name: 'denials' })
@Index('ix_denials_pool_at', ['organizationId', 'poolId', 'at', 'id'])
@Index('uq_denials_coalesce', ['organizationId', 'poolId', 'principalId', 'appId', 'reason', 'bucketStart'], {
  unique: true,
  where: '"bucket_start" IS NOT NULL',
})
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

  /** The first refusal the row counts. */
  @Column('timestamptz', { default: () => 'now()' })
  at!: Date;

  /** Refusals the row counts. */
  @Column('int', { default: 1 })
  count!: number;

  /** The last refusal the row counts; null while that is the first (and for rows written one per refusal). */
  @Column('timestamptz', { nullable: true })
  lastAt!: Date | null;

  /** Start of the window whose refusals the row counts; null for a row that takes no more (imported history, coalescing off). */
  @Column('timestamptz', { nullable: true })
  bucketStart!: Date | null;
}
