import { MigrationInterface, QueryRunner } from 'typeorm';

// The keys that sign lease proofs. private_key_pem is a secret: keep this table (and its
// backups) behind database access control.
export class LeaseSigningKeys1795386557904 implements MigrationInterface {
  name = 'LeaseSigningKeys1795386557904';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "signing_keys" ("kid" text NOT NULL, "private_key_pem" text, "public_jwk" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "retired_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "pk_signing_keys" PRIMARY KEY ("kid"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_signing_keys_retired_at" ON "signing_keys" ("retired_at") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_signing_keys_retired_at"`);
    await queryRunner.query(`DROP TABLE "signing_keys"`);
  }
}
