import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import { PoolEntity } from '../pools/pool.entity';

export type ShareScope = 'NONE' | 'PRINCIPAL' | 'PRINCIPAL_HOST' | 'WORK_UNIT';

/** A licensed tool or agent tool (GraphQL type `App`; named so it never reads like Nest's AppModule). */
@Entity({ name: 'apps' })
@Index('uq_apps_organization_key', ['organizationId', 'key'], { unique: true })
@Index('ix_apps_pool', ['poolId'])
export class CatalogAppEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_apps' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('uuid')
  poolId!: string;

  @ManyToOne(() => PoolEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'pool_id', foreignKeyConstraintName: 'fk_apps_pool' })
  pool?: PoolEntity;

  @Column('text')
  key!: string;

  @Column('text')
  name!: string;

  @Column('text', { nullable: true })
  vendor!: string | null;

  @Column('int')
  cost!: number;

  @Column('text', { default: 'NONE' })
  shareScope!: ShareScope;

  @Column('int', { default: 0 })
  lingerSeconds!: number;

  @Column('int', { default: 0 })
  minimumChargeSeconds!: number;

  /** Names other license servers use for this app (FlexNet or RLM feature names), matched exactly when their logs are imported. */
  @Column('text', { array: true, default: () => "'{}'" })
  externalNames!: string[];

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updatedAt!: Date;
}
