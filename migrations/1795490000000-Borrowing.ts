import { MigrationInterface, QueryRunner } from 'typeorm';

// Offline borrowing (docs/borrowing.md): a pool's longest borrow, a lease's borrowedUntil,
// when a lease was revoked (a revoked borrowed lease holds its credits until borrowedUntil,
// its ended_at), and the index behind the organization's revocation list.

export class Borrowing1795490000000 implements MigrationInterface {
  name = 'Borrowing1795490000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "pools" ADD "max_borrow_hours" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(`ALTER TABLE "leases" ADD "revoked_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "leases" ADD "borrowed_until" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(
      `CREATE INDEX "ix_leases_revoked_borrowed" ON "leases" ("organization_id", "ended_at") WHERE "state" = 'REVOKED' AND "borrowed_until" IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_leases_revoked_borrowed"`);
    await queryRunner.query(`ALTER TABLE "leases" DROP COLUMN "borrowed_until"`);
    await queryRunner.query(`ALTER TABLE "leases" DROP COLUMN "revoked_at"`);
    await queryRunner.query(`ALTER TABLE "pools" DROP COLUMN "max_borrow_hours"`);
  }
}
