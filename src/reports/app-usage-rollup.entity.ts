import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { RollupBucket } from './pool-usage-rollup.entity';
import { numericColumn } from '../common/database/numeric-column';

/** One app's use of its pool in one UTC hour or day; written with the pool's rollup row. */
@Entity({ name: 'app_usage_rollups' })
export class AppUsageRollupEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_app_usage_rollups' })
  poolId!: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_app_usage_rollups' })
  bucket!: RollupBucket;

  @PrimaryColumn('timestamptz', { primaryKeyConstraintName: 'pk_app_usage_rollups' })
  start!: Date;

  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_app_usage_rollups' })
  appId!: string;

  @Column('uuid')
  organizationId!: string;

  /** Most credits the app's draws held at once (for any length of time) in the bucket. */
  @Column('int')
  peakCredits!: number;

  @Column('numeric', { precision: 20, scale: 3, transformer: numericColumn })
  creditSeconds!: number;

  /** Credit-seconds held while every live lease of the draw reported its user idle. */
  @Column('numeric', { precision: 20, scale: 3, transformer: numericColumn })
  idleCreditSeconds!: number;

  /** Leases granted (acquired) in the bucket, joining leases included. */
  @Column('int')
  leases!: number;

  /** Distinct principals granted a lease in the bucket (not additive across buckets). */
  @Column('int')
  distinctPrincipals!: number;

  @Column('int')
  denialsPoolExhausted!: number;

  @Column('int')
  denialsGroupLimitReached!: number;

  @Column('int')
  denialsQueueTimeout!: number;

  /** Denials of any reason followed by a grant within the configured interval. */
  @Column('int')
  falseDenials!: number;
}
