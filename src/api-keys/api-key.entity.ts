import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import type { Role } from '../auth/role';
import { PrincipalEntity } from '../principals/principal.entity';

@Entity({ name: 'api_keys' })
@Index('uq_api_keys_secret_hash', ['secretHash'], { unique: true })
@Index('ix_api_keys_organization', ['organizationId', 'createdAt'])
export class ApiKeyEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_api_keys' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('uuid')
  principalId!: string;

  @ManyToOne(() => PrincipalEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'principal_id', foreignKeyConstraintName: 'fk_api_keys_principal' })
  principal?: PrincipalEntity;

  @Column('text')
  role!: Role;

  /** SHA-256 of the whole secret, hex. The secret itself is never stored. */
  @Column('text')
  secretHash!: string;

  /** The first characters of the secret, to tell keys apart in listings. */
  @Column('text')
  displayPrefix!: string;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;

  @Column('timestamptz', { nullable: true })
  expiresAt!: Date | null;

  @Column('timestamptz', { nullable: true })
  lastUsedAt!: Date | null;

  @Column('timestamptz', { nullable: true })
  revokedAt!: Date | null;
}
