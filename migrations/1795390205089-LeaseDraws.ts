import { MigrationInterface, QueryRunner } from 'typeorm';

// Ended draws (the credits a lease, or sharing leases plus linger, held), written once per
// draw with its LICENSE ledger row; pool reports read usage from here.

export class LeaseDraws1795390205089 implements MigrationInterface {
  name = 'LeaseDraws1795390205089';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "lease_draws" ("id" uuid NOT NULL, "organization_id" uuid NOT NULL, "pool_id" uuid NOT NULL, "app_id" uuid NOT NULL, "opener_lease_id" uuid NOT NULL, "principal_id" uuid NOT NULL, "work_unit_id" uuid, "team" text, "credits" integer NOT NULL, "opened_at" TIMESTAMP WITH TIME ZONE NOT NULL, "ended_at" TIMESTAMP WITH TIME ZONE NOT NULL, "credit_seconds" numeric(20,3) NOT NULL, "charged_credit_seconds" numeric(20,3) NOT NULL, "idle_credit_seconds" numeric(20,3) NOT NULL, "source" text NOT NULL, "recorded_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_lease_draws" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_lease_draws_organization_ended" ON "lease_draws" ("organization_id", "ended_at") `);
    await queryRunner.query(`CREATE INDEX "ix_lease_draws_pool_ended" ON "lease_draws" ("pool_id", "ended_at") `);
    await queryRunner.query(`CREATE INDEX "ix_lease_draws_pool_opened" ON "lease_draws" ("pool_id", "opened_at") `);
    await queryRunner.query(`CREATE INDEX "ix_leases_draw" ON "leases" ("draw_id") `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."ix_leases_draw"`);
    await queryRunner.query(`DROP INDEX "public"."ix_lease_draws_pool_opened"`);
    await queryRunner.query(`DROP INDEX "public"."ix_lease_draws_pool_ended"`);
    await queryRunner.query(`DROP INDEX "public"."ix_lease_draws_organization_ended"`);
    await queryRunner.query(`DROP TABLE "lease_draws"`);
  }
}
