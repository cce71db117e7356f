import { MigrationInterface, QueryRunner } from 'typeorm';

export class CatalogAndLeases1795382931334 implements MigrationInterface {
  name = 'CatalogAndLeases1795382931334';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "pools" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "organization_id" uuid NOT NULL, "name" text NOT NULL, "cap" integer NOT NULL, "default_lease_seconds" integer NOT NULL DEFAULT '300', "max_lease_seconds" integer NOT NULL DEFAULT '3600', "credit_hour_price" numeric(18,6), "epoch" bigint NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_pools" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_pools_organization_name" ON "pools" ("organization_id", "name") `);
    await queryRunner.query(
      `CREATE TABLE "pool_cap_changes" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "organization_id" uuid NOT NULL, "pool_id" uuid NOT NULL, "cap" integer NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_pool_cap_changes" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_pool_cap_changes_pool_at" ON "pool_cap_changes" ("pool_id", "at") `);
    await queryRunner.query(
      `CREATE TABLE "group_limits" ("pool_id" uuid NOT NULL, "team" text NOT NULL, "organization_id" uuid NOT NULL, "reserved" integer NOT NULL, "max" integer, CONSTRAINT "pk_group_limits" PRIMARY KEY ("pool_id", "team"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_group_limits_organization" ON "group_limits" ("organization_id") `);
    await queryRunner.query(
      `CREATE TABLE "leases" ("id" uuid NOT NULL, "organization_id" uuid NOT NULL, "pool_id" uuid NOT NULL, "app_id" uuid NOT NULL, "principal_id" uuid NOT NULL, "requested_by_principal_id" uuid NOT NULL, "api_key_id" uuid NOT NULL, "work_unit_id" uuid, "team" text, "host" text, "draw_id" uuid NOT NULL, "credits" integer NOT NULL, "lease_seconds" integer NOT NULL, "fencing_token" bigint NOT NULL, "epoch" bigint NOT NULL, "state" text NOT NULL, "acquired_at" TIMESTAMP WITH TIME ZONE NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "ended_at" TIMESTAMP WITH TIME ZONE, "last_heartbeat_at" TIMESTAMP WITH TIME ZONE, "idle_since" TIMESTAMP WITH TIME ZONE, "credit_seconds" numeric(20,3), "idempotency_key" text, "request_hash" text, "end_reason" text, CONSTRAINT "pk_leases" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_leases_idempotency" ON "leases" ("organization_id", "api_key_id", "idempotency_key") WHERE "idempotency_key" IS NOT NULL`,
    );
    await queryRunner.query(`CREATE INDEX "ix_leases_principal_acquired" ON "leases" ("organization_id", "principal_id", "acquired_at") `);
    await queryRunner.query(`CREATE INDEX "ix_leases_pool_state" ON "leases" ("pool_id", "state") `);
    await queryRunner.query(`CREATE INDEX "ix_leases_organization_acquired" ON "leases" ("organization_id", "acquired_at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "lease_idle_intervals" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "organization_id" uuid NOT NULL, "pool_id" uuid NOT NULL, "lease_id" uuid NOT NULL, "started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "ended_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_lease_idle_intervals" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_lease_idle_intervals_lease" ON "lease_idle_intervals" ("lease_id") `);
    await queryRunner.query(`CREATE INDEX "ix_lease_idle_intervals_pool_started" ON "lease_idle_intervals" ("organization_id", "pool_id", "started_at") `);
    await queryRunner.query(
      `CREATE TABLE "denials" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "organization_id" uuid NOT NULL, "pool_id" uuid NOT NULL, "app_id" uuid NOT NULL, "principal_id" uuid NOT NULL, "team" text, "requested" integer NOT NULL, "available" integer NOT NULL, "reason" text NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_denials" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_denials_pool_at" ON "denials" ("organization_id", "pool_id", "at", "id") `);
    await queryRunner.query(
      `CREATE TABLE "apps" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "organization_id" uuid NOT NULL, "pool_id" uuid NOT NULL, "key" text NOT NULL, "name" text NOT NULL, "vendor" text, "cost" integer NOT NULL, "share_scope" text NOT NULL DEFAULT 'NONE', "linger_seconds" integer NOT NULL DEFAULT '0', "minimum_charge_seconds" integer NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_apps" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_apps_pool" ON "apps" ("pool_id") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_apps_organization_key" ON "apps" ("organization_id", "key") `);
    await queryRunner.query(
      `ALTER TABLE "pools" ADD CONSTRAINT "fk_pools_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await queryRunner.query(
      `ALTER TABLE "apps" ADD CONSTRAINT "fk_apps_pool" FOREIGN KEY ("pool_id") REFERENCES "pools"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "apps" DROP CONSTRAINT "fk_apps_pool"`);
    await queryRunner.query(`ALTER TABLE "pools" DROP CONSTRAINT "fk_pools_organization"`);
    await queryRunner.query(`DROP INDEX "public"."uq_apps_organization_key"`);
    await queryRunner.query(`DROP INDEX "public"."ix_apps_pool"`);
    await queryRunner.query(`DROP TABLE "apps"`);
    await queryRunner.query(`DROP INDEX "public"."ix_denials_pool_at"`);
    await queryRunner.query(`DROP TABLE "denials"`);
    await queryRunner.query(`DROP INDEX "public"."ix_lease_idle_intervals_pool_started"`);
    await queryRunner.query(`DROP INDEX "public"."ix_lease_idle_intervals_lease"`);
    await queryRunner.query(`DROP TABLE "lease_idle_intervals"`);
    await queryRunner.query(`DROP INDEX "public"."ix_leases_organization_acquired"`);
    await queryRunner.query(`DROP INDEX "public"."ix_leases_pool_state"`);
    await queryRunner.query(`DROP INDEX "public"."ix_leases_principal_acquired"`);
    await queryRunner.query(`DROP INDEX "public"."uq_leases_idempotency"`);
    await queryRunner.query(`DROP TABLE "leases"`);
    await queryRunner.query(`DROP INDEX "public"."ix_group_limits_organization"`);
    await queryRunner.query(`DROP TABLE "group_limits"`);
    await queryRunner.query(`DROP INDEX "public"."ix_pool_cap_changes_pool_at"`);
    await queryRunner.query(`DROP TABLE "pool_cap_changes"`);
    await queryRunner.query(`DROP INDEX "public"."uq_pools_organization_name"`);
    await queryRunner.query(`DROP TABLE "pools"`);
  }
}
