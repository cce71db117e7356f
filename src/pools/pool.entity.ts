import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { OrganizationEntity } from '../organizations/organization.entity';
import { nullableNumericColumn } from '../common/database/numeric-column';

@Entity({ name: 'pools' })
@Index('uq_pools_organization_name', ['organizationId', 'name'], { unique: true })
export class PoolEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_pools' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'fk_pools_organization' })
  organization?: OrganizationEntity;

  @Column('text')
  name!: string;

  @Column('int')
  cap!: number;

  @Column('int', { default: 300 })
  defaultLeaseSeconds!: number;

  @Column('int', { default: 3600 })
  maxLeaseSeconds!: number;

  /** Longest borrow in hours; 0 = borrowing off. */
  @Column('int', { default: 0 })
  maxBorrowHours!: number;

  @Column('numeric', { precision: 18, scale: 6, nullable: true, transformer: nullableNumericColumn })
  creditHourPrice!: number | null;

  /**
   * Raised every time the pool's Redis state is rebuilt from this table; embedded in
   * fencing tokens so they never go backwards, and checked when a lease row is written so
   * a grant made under a lost Redis state is never recorded.
   */
  @Column('bigint', { default: 0 })
  epoch!: string;

  /**
   * The highest fencing token recorded for the pool, and when Redis granted it (its clock):
   * a grant Redis makes later with a token not above it, or earlier with one above it, shows
   * a Redis that went back in time, which the epoch cannot see (lease-records.service.ts).
   */
  @Column('bigint', { default: 0 })
  highestFencingToken!: string;

  @Column('timestamptz', { nullable: true })
  highestFencingTokenAt!: Date | null;

  /**
   * The version of the pool's configuration (cap, apps, team limits): raised in the
   * transaction of every change of it, written into Redis with the configuration, where a
   * write with a lower version than Redis holds is ignored (lease-engine/lua/configure.lua).
   */
  @Column('bigint', { default: 1 })
  configVersion!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
