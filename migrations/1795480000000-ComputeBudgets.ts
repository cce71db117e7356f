import { MigrationInterface, QueryRunner } from 'typeorm';

// Compute budgets (docs/budgets.md): the limits admins set, the reservations agents make
// before a model call (recorded before they are acknowledged), and per organization the
// epoch of its budget state in Redis, which a rebuild raises.

export class ComputeBudgets1795480000000 implements MigrationInterface {
  name = 'ComputeBudgets1795480000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "compute_reservations" ("id" uuid NOT NULL, "organization_id" uuid NOT NULL, "principal_id" uuid NOT NULL, "team" text, "work_unit_id" uuid, "state" text NOT NULL, "provider" text NOT NULL, "model" text NOT NULL, "amount_micros" bigint NOT NULL, "holds" text array NOT NULL, "seq" bigint NOT NULL, "epoch" bigint NOT NULL, "request_hash" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "granted_at" TIMESTAMP WITH TIME ZONE NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "ended_at" TIMESTAMP WITH TIME ZONE, "settle_event_key" text, "settled_cost_micros" bigint, "charged" boolean NOT NULL DEFAULT false, CONSTRAINT "pk_compute_reservations" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_compute_reservations_settle_event" ON "compute_reservations" ("organization_id", "settle_event_key") WHERE "charged"`,
    );
    await queryRunner.query(`CREATE INDEX "ix_compute_reservations_organization_seq" ON "compute_reservations" ("organization_id", "seq") `);
    await queryRunner.query(`CREATE INDEX "ix_compute_reservations_open" ON "compute_reservations" ("expires_at") WHERE "state" = 'OPEN'`);
    await queryRunner.query(
      `CREATE TABLE "compute_budgets" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "organization_id" uuid NOT NULL, "name" text NOT NULL, "scope" text NOT NULL, "team" text, "principal_id" uuid, "work_unit_id" uuid, "period" text NOT NULL, "limit_micros" bigint NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_compute_budgets" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_compute_budgets_organization_name" ON "compute_budgets" ("organization_id", "name") `);
    await queryRunner.query(
      `CREATE TABLE "compute_budget_states" ("organization_id" uuid NOT NULL, "epoch" bigint NOT NULL DEFAULT '0', CONSTRAINT "pk_compute_budget_states" PRIMARY KEY ("organization_id"))`,
    );
    await queryRunner.query(
      `ALTER TABLE "compute_reservations" ADD CONSTRAINT "fk_compute_reservations_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "compute_budgets" ADD CONSTRAINT "fk_compute_budgets_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "compute_budget_states" ADD CONSTRAINT "fk_compute_budget_states_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "compute_budget_states" DROP CONSTRAINT "fk_compute_budget_states_organization"`);
    await queryRunner.query(`ALTER TABLE "compute_budgets" DROP CONSTRAINT "fk_compute_budgets_organization"`);
    await queryRunner.query(`ALTER TABLE "compute_reservations" DROP CONSTRAINT "fk_compute_reservations_organization"`);
    await queryRunner.query(`DROP TABLE "compute_budget_states"`);
    await queryRunner.query(`DROP INDEX "public"."uq_compute_budgets_organization_name"`);
    await queryRunner.query(`DROP TABLE "compute_budgets"`);
    await queryRunner.query(`DROP INDEX "public"."ix_compute_reservations_open"`);
    await queryRunner.query(`DROP INDEX "public"."ix_compute_reservations_organization_seq"`);
    await queryRunner.query(`DROP INDEX "public"."ix_compute_reservations_settle_event"`);
    await queryRunner.query(`DROP TABLE "compute_reservations"`);
  }
}
