import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** The public half of an Ed25519 key as a JWK, without kid, alg or use (added when published). */
export interface PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
}

/**
 * The keys that sign lease proofs. One is active (retiredAt null); retired keys stay
 * published until every proof they signed has expired, so keys can rotate without breaking
 * proofs already handed out.
 */
@Entity({ name: 'signing_keys' })
@Index('ix_signing_keys_retired_at', ['retiredAt'])
export class SigningKeyEntity {
  /** The RFC 7638 thumbprint of the public key: every replica derives the same kid. */
  @PrimaryColumn('text', { primaryKeyConstraintName: 'pk_signing_keys' })
  kid!: string;

  /**
   * The Ed25519 private key, PKCS8 PEM. A secret: protect this table (and its backups) with
   * database access control and never log it. NULL for a key given in LEASE_SIGNING_KEY,
   * which stays in the configuration and is recorded here only to be published.
   */
  @Column('text', { nullable: true })
  privateKeyPem!: string | null;

  @Column('jsonb')
  publicJwk!: PublicJwk;

  @Column('timestamptz', { default: () => 'now()' })
  createdAt!: Date;

  @Column('timestamptz', { nullable: true })
  retiredAt!: Date | null;
}
