import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { nullableNumericColumn } from '../common/database/numeric-column';

export type LeaseState = 'ACTIVE' | 'RELEASED' | 'EXPIRED' | 'REVOKED';

/**
 * The record of every lease a client was told it holds. Written before the client hears of
 * the lease (promise 4), so Redis can lose its state and be rebuilt from here.
 */
@Entity({ name: 'leases' })
@Index('ix_leases_organization_acquired', ['organizationId', 'acquiredAt', 'id'])
@Index('ix_leases_pool_state', ['poolId', 'state'])
@Index('ix_leases_draw', ['drawId'])
// The draw reconciliation looks for recently ended openers per pool (lease-draws.service.ts).
@Index('ix_leases_pool_opener_ended', ['poolId', 'endedAt'], { where: '"credits" > 0' })
@Index('ix_leases_principal_acquired', ['organizationId', 'principalId', 'acquiredAt'])
// The revocation list: borrowed leases revoked, still held (their endedAt is borrowedUntil).
@Index('ix_leases_revoked_borrowed', ['organizationId', 'endedAt'], { where: `"state" = 'REVOKED' AND "borrowed_until" IS NOT NULL` })
// License-log imports find the leases an earlier import ended at an estimated time (src/license-logs/).
@Index('ix_leases_estimated_import', ['poolId', 'appId', 'principalId', 'acquiredAt'], { where: `"end_reason" = 'imported (estimated end)'` })
@Index('uq_leases_idempotency', ['organizationId', 'apiKeyId', 'idempotencyKey'], { unique: true, where: '"idempotency_key" IS NOT NULL' })
export class LeaseEntity {
  /** Chosen by the API before the Redis step, so both sides name the lease alike. */
  @PrimaryColumn('uuid', { primaryKeyConstraintName: 'pk_leases' })
  id!: string;

  @Column('uuid')
  organizationId!: string;

  @Column('uuid')
  poolId!: string;

  @Column('uuid')
  appId!: string;

  /** The holder: who the sharing and the limits count. */
  @Column('uuid')
  principalId!: string;

  /** Who asked: the holder, or the SERVICE principal that checked out on its behalf. */
  @Column('uuid')
  requestedByPrincipalId!: string;

  @Column('uuid')
  apiKeyId!: string;

  @Column('uuid', { nullable: true })
  workUnitId!: string | null;

  @Column('text', { nullable: true })
  team!: string | null;

  @Column('text', { nullable: true })
  host!: string | null;

  @Column('uuid')
  drawId!: string;

  @Column('int')
  credits!: number;

  @Column('int')
  leaseSeconds!: number;

  @Column('bigint')
  fencingToken!: string;

  @Column('bigint')
  epoch!: string;

  @Column('text')
  state!: LeaseState;

  @Column('timestamptz')
  acquiredAt!: Date;

  @Column('timestamptz')
  expiresAt!: Date;

  /**
   * When the lease stopped holding its credits. For a borrowed lease that was revoked that is
   * its borrowedUntil (later than the revocation, maybe still to come: see revokedAt), so
   * every report and the draw reconciliation count it as held until then.
   */
  @Column('timestamptz', { nullable: true })
  endedAt!: Date | null;

  /** When an admin revoked the lease (REVOKED only): the time callers see as its end, and the revocation list's. */
  @Column('timestamptz', { nullable: true })
  revokedAt!: Date | null;

  /**
   * Set on a borrowed lease: it needs no heartbeat and holds its credits in Redis until this
   * time (equal to its expiresAt) or its return, even once revoked (a tool may still be
   * running offline on its proof, whose exp is this time).
   */
  @Column('timestamptz', { nullable: true })
  borrowedUntil!: Date | null;

  @Column('timestamptz', { nullable: true })
  lastHeartbeatAt!: Date | null;

  /** Start of the idle interval the holder is in now (it reported no user activity), if any. */
  @Column('timestamptz', { nullable: true })
  idleSince!: Date | null;

  /** Credits held times seconds held, written when the lease ends. */
  @Column('numeric', { precision: 20, scale: 3, nullable: true, transformer: nullableNumericColumn })
  creditSeconds!: number | null;

  @Column('text', { nullable: true })
  idempotencyKey!: string | null;

  /** SHA-256 of the check-out arguments, to tell a retry from a conflicting reuse of the key. */
  @Column('text', { nullable: true })
  requestHash!: string | null;

  @Column('text', { nullable: true })
  endReason!: string | null;
}
