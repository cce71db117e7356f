import { MigrationInterface, QueryRunner } from 'typeorm';

// The highest fencing token recorded for each pool, and when Redis granted it: a grant that
// Redis makes later with a token not above it (or earlier with one above it) shows a Redis
// that went back in time (a failover to a replica that missed writes, an old snapshot), which
// the epoch alone cannot see. Existing pools start from their active leases.

export class PoolFencingHighWater1795460000300 implements MigrationInterface {
  name = 'PoolFencingHighWater1795460000300';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "pools" ADD "highest_fencing_token" bigint NOT NULL DEFAULT '0'`);
    await queryRunner.query(`ALTER TABLE "pools" ADD "highest_fencing_token_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(
      `UPDATE "pools" p SET "highest_fencing_token" = h.fencing_token, "highest_fencing_token_at" = h.acquired_at
             FROM (SELECT DISTINCT ON (pool_id) pool_id, fencing_token, acquired_at FROM "leases" WHERE state = 'ACTIVE'
                   ORDER BY pool_id, fencing_token DESC) h
             WHERE h.pool_id = p.id`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "pools" DROP COLUMN "highest_fencing_token_at"`);
    await queryRunner.query(`ALTER TABLE "pools" DROP COLUMN "highest_fencing_token"`);
  }
}
