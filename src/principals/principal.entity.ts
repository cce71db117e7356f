import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import type { PrincipalKind } from '../auth/principal-kind';
import { OrganizationEntity } from '../organizations/organization.entity';

export type OrgUnitKind = 'CHANGE' | 'GOING_CONCERN';

@Entity({ name: 'principals' })
@Index('ix_principals_organization', ['organizationId', 'createdAt'])
export class PrincipalEntity {
  @PrimaryGeneratedColumn('uuid', { primaryKeyConstraintName: 'pk_principals' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @ManyToOne(() => OrganizationEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'organization_id', foreignKeyConstraintName: 'fk_principals_organization' })
  organization?: OrganizationEntity;

  @Column('text')
  name!: string;

  @Column('text')
  kind!: PrincipalKind;

  @Column('text', { nullable: true })
  team!: string | null;

  @Column('text')
  orgUnitKind!: OrgUnitKind;

  @CreateDateColumn({ type: 'timestamptz' })
  createdAt!: Date;
}
