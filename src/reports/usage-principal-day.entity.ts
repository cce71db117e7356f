import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Who was granted which app of a pool on one UTC day: distinct principals over any window,
 * and lapsed principals, are counted from here instead of scanning every lease.
 */
@Entity({ name: 'usage_principal_days' })
export class UsagePrincipalDayEntity {
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_usage_principal_days' })
  poolId!: string;

  @PrimaryColumn('timestamptz', { primaryKeyConstraintName: 'pk_usage_principal_days' })
  day!: Date;

  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_usage_principal_days' })
  appId!: string;

  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_usage_principal_days' })
  principalId!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('int')
  leases!: number;
}
