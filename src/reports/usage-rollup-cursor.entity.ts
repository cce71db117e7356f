import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * How far a pool's rollups reach. Hours in [coveredFrom, coveredUntil) are rolled up (an
 * hour without a row held nothing and saw nothing); the pool has no data before
 * coveredFrom (an import of older history moves it back). Reports read raw rows elsewhere.
 */
@Entity({ name: 'usage_rollup_cursors' })
export class UsageRollupCursorEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_usage_rollup_cursors' })
  poolId!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('timestamptz')
  coveredFrom!: Date;

  @Column('timestamptz')
  coveredUntil!: Date;

  /**
   * The longest recorded draw the rollups have seen: a draw open at an old instant opened at
   * most this long before it, so raw reads of old edges scan a bounded range of openings.
   */
  @Column('int')
  longestDrawSeconds!: number;

  @Column('timestamptz', { default: () => 'now()' })
  updatedAt!: Date;
}
