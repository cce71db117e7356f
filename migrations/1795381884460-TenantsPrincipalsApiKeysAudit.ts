// Tenants, their principals and hashed API keys, and the audit log of administrative changes.
import { MigrationInterface, QueryRunner } from 'typeorm';

export class TenantsPrincipalsApiKeysAudit1795381884460 implements MigrationInterface {
  name = 'TenantsPrincipalsApiKeysAudit1795381884460';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "organizations" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" text NOT NULL, "currency" character(3) NOT NULL DEFAULT 'USD', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_organizations" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_organizations_name" ON "organizations" ("name") `);
    await queryRunner.query(
      `CREATE TABLE "principals" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "organization_id" uuid NOT NULL, "name" text NOT NULL, "kind" text NOT NULL, "team" text, "org_unit_kind" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_principals" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_principals_organization" ON "principals" ("organization_id", "created_at") `);
    await queryRunner.query(
      `CREATE TABLE "audit_log" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "organization_id" uuid NOT NULL, "actor_principal_id" uuid NOT NULL, "action" text NOT NULL, "object_id" text NOT NULL, "before" jsonb, "after" jsonb, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_audit_log" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_audit_log_organization_at" ON "audit_log" ("organization_id", "at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "api_keys" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "organization_id" uuid NOT NULL, "principal_id" uuid NOT NULL, "role" text NOT NULL, "secret_hash" text NOT NULL, "display_prefix" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE, "last_used_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "pk_api_keys" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_api_keys_organization" ON "api_keys" ("organization_id", "created_at") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_api_keys_secret_hash" ON "api_keys" ("secret_hash") `);
    await queryRunner.query(
      `ALTER TABLE "principals" ADD CONSTRAINT "fk_principals_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "fk_api_keys_principal" FOREIGN KEY ("principal_id") REFERENCES "principals"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "fk_api_keys_principal"`);
    await queryRunner.query(`ALTER TABLE "principals" DROP CONSTRAINT "fk_principals_organization"`);
    await queryRunner.query(`DROP INDEX "public"."uq_api_keys_secret_hash"`);
    await queryRunner.query(`DROP INDEX "public"."ix_api_keys_organization"`);
    await queryRunner.query(`DROP TABLE "api_keys"`);
    await queryRunner.query(`DROP INDEX "public"."ix_audit_log_organization_at"`);
    await queryRunner.query(`DROP TABLE "audit_log"`);
    await queryRunner.query(`DROP INDEX "public"."ix_principals_organization"`);
    await queryRunner.query(`DROP TABLE "principals"`);
    await queryRunner.query(`DROP INDEX "public"."uq_organizations_name"`);
    await queryRunner.query(`DROP TABLE "organizations"`);
  }
}
