import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

@Entity({ name: 'audit_log' })
@Index('ix_audit_log_organization_at', ['organizationId', 'at', 'id'])
export class AuditEntryEntity {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS', primaryKeyConstraintName: 'pk_audit_log' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('uuid')
  actorPrincipalId!: string;

  @Column('text')
  action!: string;

  @Column('text')
  objectId!: string;

  @Column('jsonb', { nullable: true })
  before!: object | null;

  @Column('jsonb', { nullable: true })
  after!: object | null;

  @CreateDateColumn({ type: 'timestamptz' })
  at!: Date;
}
