import { MigrationInterface, QueryRunner } from 'typeorm';

// The version of each pool's configuration (its cap, its apps and its team limits): raised in
// the transaction of every change, written into Redis with the configuration, and compared
// there, so an older configuration (a resync that read the row before a change) never
// overwrites a newer one.

export class PoolConfigVersion1795470000700 implements MigrationInterface {
  name = 'PoolConfigVersion1795470000700';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "pools" ADD "config_version" bigint NOT NULL DEFAULT '1'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "pools" DROP COLUMN "config_version"`);
  }
}
