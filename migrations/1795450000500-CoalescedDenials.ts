import { MigrationInterface, QueryRunner } from 'typeorm';

// Repeated refusals of the same principal, app, pool and reason within DENIAL_COALESCE_SECONDS
// are counted on one row instead of one row each, so a flood of refused check-outs cannot
// grow the table without bound. The unique key per window lets one INSERT ... ON CONFLICT
// count a refusal atomically across replicas. Rows written before (and imported history)
// keep count 1 and no window.

export class CoalescedDenials1795450000500 implements MigrationInterface {
  name = 'CoalescedDenials1795450000500';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "denials" ADD "count" integer NOT NULL DEFAULT '1'`);
    await queryRunner.query(`ALTER TABLE "denials" ADD "last_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "denials" ADD "bucket_start" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_denials_coalesce" ON "denials" ("organization_id", "pool_id", "principal_id", "app_id", "reason", "bucket_start") WHERE "bucket_start" IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."uq_denials_coalesce"`);
    await queryRunner.query(`ALTER TABLE "denials" DROP COLUMN "bucket_start"`);
    await queryRunner.query(`ALTER TABLE "denials" DROP COLUMN "last_at"`);
    await queryRunner.query(`ALTER TABLE "denials" DROP COLUMN "count"`);
  }
}
