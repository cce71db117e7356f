import { Column, Entity, PrimaryColumn } from 'typeorm';
import { numericColumn } from '../common/database/numeric-column';

export type RollupBucket = 'HOUR' | 'DAY';

/**
 * A pool's use in one UTC hour or day: the seconds it spent at each level of use (level 0
 * implied) and the level each request needed. Hours are computed from raw rows by the
 * rollup job; a day is the sum of its hours. Cap-independent, so a cap change never
 * invalidates a rollup: reports apply the cap history when they read.
 */
@Entity({ name: 'pool_usage_rollups' })
export class PoolUsageRollupEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_pool_usage_rollups' })
  poolId!: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_pool_usage_rollups' })
  bucket!: RollupBucket;

  @PrimaryColumn('timestamptz', { primaryKeyConstraintName: 'pk_pool_usage_rollups' })
  start!: Date;

  @Column('uuid')
  organizationId!: string;

  @Column('int')
  peakCredits!: number;

  @Column('numeric', { precision: 20, scale: 3, transformer: numericColumn })
  creditSeconds!: number;

  /** {"<level>": seconds} for every level above 0 held in the bucket. */
  @Column('jsonb')
  levelSeconds!: Record<string, number>;

  /** {"<level>": requests}: draws opened at that level, true cap denials at level + asked. */
  @Column('jsonb')
  requestLevels!: Record<string, number>;

  @Column('timestamptz', { default: () => 'now()' })
  computedAt!: Date;
}
