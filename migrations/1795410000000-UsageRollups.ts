import { MigrationInterface, QueryRunner } from 'typeorm';

// Hourly and daily usage rollups per pool and app, who used which app each day, how far each
// pool is rolled up, and the record of history imports (with their synthetic fencing tokens).

export class UsageRollups1795410000000 implements MigrationInterface {
  name = 'UsageRollups1795410000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "usage_rollup_cursors" ("pool_id" uuid NOT NULL, "organization_id" uuid NOT NULL, "covered_from" TIMESTAMP WITH TIME ZONE NOT NULL, "covered_until" TIMESTAMP WITH TIME ZONE NOT NULL, "longest_draw_seconds" integer NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_usage_rollup_cursors" PRIMARY KEY ("pool_id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "pool_usage_rollups" ("pool_id" uuid NOT NULL, "bucket" text NOT NULL, "start" TIMESTAMP WITH TIME ZONE NOT NULL, "organization_id" uuid NOT NULL, "peak_credits" integer NOT NULL, "credit_seconds" numeric(20,3) NOT NULL, "level_seconds" jsonb NOT NULL, "request_levels" jsonb NOT NULL, "computed_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_pool_usage_rollups" PRIMARY KEY ("pool_id", "bucket", "start"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "usage_principal_days" ("pool_id" uuid NOT NULL, "day" TIMESTAMP WITH TIME ZONE NOT NULL, "app_id" uuid NOT NULL, "principal_id" uuid NOT NULL, "organization_id" uuid NOT NULL, "leases" integer NOT NULL, CONSTRAINT "pk_usage_principal_days" PRIMARY KEY ("pool_id", "day", "app_id", "principal_id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "app_usage_rollups" ("pool_id" uuid NOT NULL, "bucket" text NOT NULL, "start" TIMESTAMP WITH TIME ZONE NOT NULL, "app_id" uuid NOT NULL, "organization_id" uuid NOT NULL, "peak_credits" integer NOT NULL, "credit_seconds" numeric(20,3) NOT NULL, "idle_credit_seconds" numeric(20,3) NOT NULL, "leases" integer NOT NULL, "distinct_principals" integer NOT NULL, "denials_pool_exhausted" integer NOT NULL, "denials_group_limit_reached" integer NOT NULL, "denials_queue_timeout" integer NOT NULL, "false_denials" integer NOT NULL, CONSTRAINT "pk_app_usage_rollups" PRIMARY KEY ("pool_id", "bucket", "start", "app_id"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "history_imports" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "organization_id" uuid NOT NULL, "pool_id" uuid NOT NULL, "range_from" TIMESTAMP WITH TIME ZONE NOT NULL, "range_to" TIMESTAMP WITH TIME ZONE NOT NULL, "leases" integer NOT NULL, "draws" integer NOT NULL, "denials" integer NOT NULL, "cap_changes" integer NOT NULL, "first_fencing_token" bigint, "last_fencing_token" bigint, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_history_imports" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_history_imports_pool" ON "history_imports" ("pool_id", "last_fencing_token") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_history_imports_pool"`);
    await queryRunner.query(`DROP TABLE "history_imports"`);
    await queryRunner.query(`DROP TABLE "app_usage_rollups"`);
    await queryRunner.query(`DROP TABLE "usage_principal_days"`);
    await queryRunner.query(`DROP TABLE "pool_usage_rollups"`);
    await queryRunner.query(`DROP TABLE "usage_rollup_cursors"`);
  }
}
