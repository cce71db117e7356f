import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One import of past usage into a pool: what it wrote, and the range of synthetic fencing
 * tokens its leases took (negative, below every live token, never reused in the pool).
 */
@Entity({ name: 'history_imports' })
@Index('ix_history_imports_pool', ['poolId', 'lastFencingToken'])
export class HistoryImportEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_history_imports' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('uuid')
  poolId!: string;

  /** Earliest instant the import wrote (a lease start, a denial, a cap change). */
  @Column('timestamptz')
  rangeFrom!: Date;

  /** Latest instant the import wrote (a draw end, a denial). */
  @Column('timestamptz')
  rangeTo!: Date;

  @Column('int')
  leases!: number;

  @Column('int')
  draws!: number;

  @Column('int')
  denials!: number;

  @Column('int')
  capChanges!: number;

  /** The import's leases hold tokens firstFencingToken down to lastFencingToken (null without leases). */
  @Column('bigint', { nullable: true })
  firstFencingToken!: string | null;

  @Column('bigint', { nullable: true })
  lastFencingToken!: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
