import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { numericColumn } from '../common/database/numeric-column';

/**
 * Versions of a model's price, by effective date; never updated. The price in force at an
 * instant is the version with the latest effective_from at or before it (the newest row when
 * two share a date). A ledger row names the version it used.
 */
@Entity({ name: 'model_prices' })
@Index('ix_model_prices_lookup', ['organizationId', 'provider', 'model', 'effectiveFrom', 'id'])
export class ModelPriceEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS', primaryKeyConstraintName: 'pk_model_prices' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('text')
  provider!: string;

  @Column('text')
  model!: string;

  @Column('numeric', { precision: 20, scale: 9, transformer: numericColumn })
  inputPerMillion!: number;

  @Column('numeric', { precision: 20, scale: 9, transformer: numericColumn })
  outputPerMillion!: number;

  /** Stored resolved: the input price when the caller gave none. */
  @Column('numeric', { precision: 20, scale: 9, transformer: numericColumn })
  cachedInputPerMillion!: number;

  @Column('timestamptz')
  effectiveFrom!: Date;

  @Column('uuid')
  createdByPrincipalId!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
