import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

@Entity({ name: 'group_limits' })
@Index('ix_group_limits_organization', ['organizationId'])
export class GroupLimitEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_group_limits' })
  poolId!: string;

  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_group_limits' })
  team!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('int')
  reserved!: number;

  @Column('int', { nullable: true })
  max!: number | null;
}
