import { MigrationInterface, QueryRunner } from 'typeorm';

// Lets the worker's draw reconciliation read only a pool's recently ended openers instead
// of every ended lease of the pool, every 30 seconds.

export class DrawReconciliationIndex1795430000000 implements MigrationInterface {
  name = 'DrawReconciliationIndex1795430000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE INDEX "ix_leases_pool_opener_ended" ON "leases" ("pool_id", "ended_at") WHERE "credits" > 0`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_leases_pool_opener_ended"`);
  }
}
