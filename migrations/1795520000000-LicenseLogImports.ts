import { MigrationInterface, QueryRunner } from 'typeorm';

// License-log import (docs/license-logs.md): the names other license servers give an app, a
// record of each import with its summary, and the identity of every event an import recorded
// (a checkout, a denial, an lmstat holding), so that importing a file again, or rotated files
// that overlap, records each event once.
export class LicenseLogImports1795520000000 implements MigrationInterface {
  name = 'LicenseLogImports1795520000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "apps" ADD "external_names" text array NOT NULL DEFAULT '{}'`);
    await queryRunner.query(
      `CREATE TABLE "license_log_imports" (
            "id" uuid NOT NULL DEFAULT gen_random_uuid(),
            "organization_id" uuid NOT NULL,
            "pool_id" uuid NOT NULL,
            "format" text NOT NULL,
            "time_zone" text NOT NULL,
            "lines" integer NOT NULL,
            "leases" integer NOT NULL,
            "denials" integer NOT NULL,
            "duplicates" integer NOT NULL,
            "skipped_lines" integer NOT NULL,
            "estimated_ends" integer NOT NULL,
            "unmatched_features" text array NOT NULL,
            "first_event" TIMESTAMP WITH TIME ZONE,
            "last_event" TIMESTAMP WITH TIME ZONE,
            "created_by_principal_id" uuid NOT NULL,
            "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
            CONSTRAINT "pk_license_log_imports" PRIMARY KEY ("id")
        )`,
    );
    await queryRunner.query(`CREATE INDEX "ix_license_log_imports_pool" ON "license_log_imports" ("organization_id", "pool_id", "created_at")`);
    await queryRunner.query(
      `ALTER TABLE "license_log_imports" ADD CONSTRAINT "fk_license_log_imports_pool" FOREIGN KEY ("pool_id") REFERENCES "pools"("id") ON DELETE CASCADE`,
    );
    await queryRunner.query(
      `CREATE TABLE "license_log_events" (
            "pool_id" uuid NOT NULL,
            "event_key" text NOT NULL,
            "organization_id" uuid NOT NULL,
            CONSTRAINT "pk_license_log_events" PRIMARY KEY ("pool_id", "event_key")
        )`,
    );
    await queryRunner.query(
      `ALTER TABLE "license_log_events" ADD CONSTRAINT "fk_license_log_events_pool" FOREIGN KEY ("pool_id") REFERENCES "pools"("id") ON DELETE CASCADE`,
    );
    // Open leases an import closed at an estimated end, found again by a later import's check-in.
    await queryRunner.query(
      `CREATE INDEX "ix_leases_estimated_import" ON "leases" ("pool_id", "app_id", "principal_id", "acquired_at") WHERE "end_reason" = 'imported (estimated end)'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "ix_leases_estimated_import"`);
    await queryRunner.query(`DROP TABLE "license_log_events"`);
    await queryRunner.query(`DROP TABLE "license_log_imports"`);
    await queryRunner.query(`ALTER TABLE "apps" DROP COLUMN "external_names"`);
  }
}
