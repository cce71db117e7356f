import { MigrationInterface, QueryRunner } from 'typeorm';

// The usage ledger: work units and their outcome history, model prices, and the append-only
// ledger of consumption with its idempotency keys and per-work-unit totals.
//
// The first block is generated from the entities. The rest is written by hand because
// TypeORM cannot express it (LedgerEntryEntity is marked `synchronize: false`):
// - ledger_entries is partitioned by month on occurred_at: one partition per UTC month,
//   created ahead by ledger_ensure_partitions() (here for the past 12 months and the next 3,
//   then daily by the worker), and a DEFAULT partition that catches anything older (a
//   backfill) so no insert ever fails for want of a partition;
// - UPDATE, DELETE and TRUNCATE of ledger rows, idempotency keys and outcome history raise;
// - an AFTER INSERT statement trigger adds the inserted rows to work_unit_totals in the same
//   statement, so a work unit's totals are always the sum of its rows;
// - work_unit_outcomes_as_of(organization, at) returns each work unit's outcome as of `at`.
export class UsageLedger1795400000000 implements MigrationInterface {
  name = 'UsageLedger1795400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "work_units" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "organization_id" uuid NOT NULL, "external_ref" text NOT NULL, "owner" text, "team" text, "process" text, "task" text, "org_unit_kind" text NOT NULL, "outcome" text NOT NULL DEFAULT 'PENDING', "quality_result" text, "human_reviewed" boolean, "decision" text, "value_dimension" text, "value_amount" numeric(24,6), "evidence_confidence" numeric(5,4), "outcome_recorded_at" TIMESTAMP WITH TIME ZONE, "created_by_principal_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_work_units" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_work_units_organization_created" ON "work_units" ("organization_id", "created_at", "id") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_work_units_organization_external_ref" ON "work_units" ("organization_id", "external_ref") `);
    await queryRunner.query(
      `CREATE TABLE "work_unit_totals" ("work_unit_id" uuid NOT NULL, "organization_id" uuid NOT NULL, "license_credit_seconds" numeric(24,3) NOT NULL DEFAULT '0', "license_idle_credit_seconds" numeric(24,3) NOT NULL DEFAULT '0', "compute_input_tokens" bigint NOT NULL DEFAULT '0', "compute_cached_input_tokens" bigint NOT NULL DEFAULT '0', "compute_output_tokens" bigint NOT NULL DEFAULT '0', "compute_reasoning_tokens" bigint NOT NULL DEFAULT '0', "license_cost" numeric(28,9) NOT NULL DEFAULT '0', "compute_cost" numeric(28,9) NOT NULL DEFAULT '0', "entries" bigint NOT NULL DEFAULT '0', CONSTRAINT "pk_work_unit_totals" PRIMARY KEY ("work_unit_id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_work_unit_totals_organization" ON "work_unit_totals" ("organization_id") `);
    await queryRunner.query(
      `CREATE TABLE "work_unit_outcomes" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "organization_id" uuid NOT NULL, "work_unit_id" uuid NOT NULL, "recorded_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "recorded_by_principal_id" uuid NOT NULL, "before" jsonb, "outcome" text NOT NULL, "quality_result" text, "human_reviewed" boolean, "decision" text, "value_dimension" text, "value_amount" numeric(24,6), "evidence_confidence" numeric(5,4), CONSTRAINT "pk_work_unit_outcomes" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_work_unit_outcomes_organization_recorded" ON "work_unit_outcomes" ("organization_id", "recorded_at") `);
    await queryRunner.query(
      `CREATE INDEX "ix_work_unit_outcomes_unit_recorded" ON "work_unit_outcomes" ("organization_id", "work_unit_id", "recorded_at", "id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "ledger_event_keys" ("organization_id" uuid NOT NULL, "event_key" text NOT NULL, "entry_id" bigint NOT NULL, "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL, "content_hash" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_ledger_event_keys" PRIMARY KEY ("organization_id", "event_key"))`,
    );
    await queryRunner.query(
      `CREATE TABLE "model_prices" ("id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL, "organization_id" uuid NOT NULL, "provider" text NOT NULL, "model" text NOT NULL, "input_per_million" numeric(20,9) NOT NULL, "output_per_million" numeric(20,9) NOT NULL, "cached_input_per_million" numeric(20,9) NOT NULL, "effective_from" TIMESTAMP WITH TIME ZONE NOT NULL, "created_by_principal_id" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "pk_model_prices" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_model_prices_lookup" ON "model_prices" ("organization_id", "provider", "model", "effective_from", "id") `);
    await queryRunner.query(
      `ALTER TABLE "work_units" ADD CONSTRAINT "fk_work_units_organization" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );

    // ---- hand-written: the ledger itself ----
    // Ids come from one sequence: the idempotency key takes nextval() and the ledger row
    // reuses it, in the same statement.
    await queryRunner.query(`CREATE SEQUENCE "ledger_entries_id_seq" AS bigint`);
    await queryRunner.query(`CREATE TABLE "ledger_entries" (
            "id" bigint NOT NULL,
            "organization_id" uuid NOT NULL,
            "event_key" text NOT NULL,
            "kind" text NOT NULL,
            "meter" text NOT NULL,
            "work_unit_id" uuid,
            "principal_id" uuid,
            "occurred_at" TIMESTAMP WITH TIME ZONE NOT NULL,
            "started_at" TIMESTAMP WITH TIME ZONE,
            "recorded_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
            "credit_seconds" numeric(20,3) NOT NULL DEFAULT 0,
            "idle_credit_seconds" numeric(20,3) NOT NULL DEFAULT 0,
            "input_tokens" bigint NOT NULL DEFAULT 0,
            "cached_input_tokens" bigint NOT NULL DEFAULT 0,
            "output_tokens" bigint NOT NULL DEFAULT 0,
            "reasoning_tokens" bigint NOT NULL DEFAULT 0,
            "credit_hour_price" numeric(20,9),
            "input_price_per_million" numeric(20,9),
            "cached_input_price_per_million" numeric(20,9),
            "output_price_per_million" numeric(20,9),
            "model_price_id" bigint,
            "cost" numeric(24,9),
            "currency" character(3) NOT NULL,
            "cost_source" text NOT NULL,
            "lease_id" uuid,
            "draw_id" uuid,
            "pool_id" uuid,
            "app_id" uuid,
            "provider" text,
            "model" text,
            "corrects_entry_id" bigint,
            CONSTRAINT "pk_ledger_entries" PRIMARY KEY ("id", "occurred_at"),
            CONSTRAINT "ck_ledger_entries_kind" CHECK ("kind" IN ('LICENSE', 'COMPUTE', 'CORRECTION')),
            CONSTRAINT "ck_ledger_entries_meter" CHECK ("meter" IN ('LICENSE', 'COMPUTE') AND ("kind" = 'CORRECTION' OR "meter" = "kind")),
            CONSTRAINT "ck_ledger_entries_correction" CHECK (("kind" = 'CORRECTION') = ("corrects_entry_id" IS NOT NULL)),
            CONSTRAINT "ck_ledger_entries_cost_source" CHECK ("cost_source" IN ('CALLER', 'PRICE_TABLE', 'UNPRICED') AND ("cost_source" = 'UNPRICED') = ("cost" IS NULL)),
            CONSTRAINT "ck_ledger_entries_quantities" CHECK ("credit_seconds" >= 0 AND "idle_credit_seconds" >= 0 AND "input_tokens" >= 0 AND "cached_input_tokens" >= 0 AND "output_tokens" >= 0 AND "reasoning_tokens" >= 0)
        ) PARTITION BY RANGE ("occurred_at")`);
    // Few indexes, each paid on every insert: report windows per organization, a work
    // unit's rows, and the unpriced rows a new price may correct.
    await queryRunner.query(`CREATE INDEX "ix_ledger_entries_organization_occurred" ON "ledger_entries" ("organization_id", "occurred_at")`);
    await queryRunner.query(`CREATE INDEX "ix_ledger_entries_work_unit" ON "ledger_entries" ("work_unit_id", "occurred_at") WHERE "work_unit_id" IS NOT NULL`);
    await queryRunner.query(
      `CREATE INDEX "ix_ledger_entries_unpriced" ON "ledger_entries" ("organization_id", "provider", "model", "occurred_at") WHERE "cost_source" = 'UNPRICED'`,
    );

    await queryRunner.query(`CREATE FUNCTION "ledger_refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                    USING HINT = 'A correction is a new row that points at the one it corrects.';
            END $$`);
    for (const table of ['ledger_entries', 'ledger_event_keys', 'work_unit_outcomes']) {
      // Row triggers on a partitioned table are cloned onto every partition, present and future.
      await queryRunner.query(
        `CREATE TRIGGER "tr_${table}_append_only" BEFORE UPDATE OR DELETE ON "${table}" FOR EACH ROW EXECUTE FUNCTION "ledger_refuse_change"()`,
      );
      // A TRUNCATE trigger is per table: partitions get theirs in ledger_ensure_partitions().
      await queryRunner.query(
        `CREATE TRIGGER "tr_${table}_no_truncate" BEFORE TRUNCATE ON "${table}" FOR EACH STATEMENT EXECUTE FUNCTION "ledger_refuse_change"()`,
      );
    }

    await queryRunner.query(`CREATE FUNCTION "ledger_add_to_totals"() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                -- Ordered by work unit, so concurrent inserts lock totals rows in one order.
                INSERT INTO "work_unit_totals" AS t ("work_unit_id", "organization_id", "license_credit_seconds", "license_idle_credit_seconds",
                        "compute_input_tokens", "compute_cached_input_tokens", "compute_output_tokens", "compute_reasoning_tokens",
                        "license_cost", "compute_cost", "entries")
                SELECT n."work_unit_id", (array_agg(n."organization_id"))[1],
                       coalesce(sum(n."credit_seconds") FILTER (WHERE n."meter" = 'LICENSE'), 0),
                       coalesce(sum(n."idle_credit_seconds") FILTER (WHERE n."meter" = 'LICENSE'), 0),
                       coalesce(sum(n."input_tokens") FILTER (WHERE n."meter" = 'COMPUTE'), 0),
                       coalesce(sum(n."cached_input_tokens") FILTER (WHERE n."meter" = 'COMPUTE'), 0),
                       coalesce(sum(n."output_tokens") FILTER (WHERE n."meter" = 'COMPUTE'), 0),
                       coalesce(sum(n."reasoning_tokens") FILTER (WHERE n."meter" = 'COMPUTE'), 0),
                       coalesce(sum(n."cost") FILTER (WHERE n."meter" = 'LICENSE'), 0),
                       coalesce(sum(n."cost") FILTER (WHERE n."meter" = 'COMPUTE'), 0),
                       count(*)
                FROM new_rows n
                WHERE n."work_unit_id" IS NOT NULL
                GROUP BY n."work_unit_id"
                ORDER BY n."work_unit_id"
                ON CONFLICT ("work_unit_id") DO UPDATE SET
                    "license_credit_seconds" = t."license_credit_seconds" + excluded."license_credit_seconds",
                    "license_idle_credit_seconds" = t."license_idle_credit_seconds" + excluded."license_idle_credit_seconds",
                    "compute_input_tokens" = t."compute_input_tokens" + excluded."compute_input_tokens",
                    "compute_cached_input_tokens" = t."compute_cached_input_tokens" + excluded."compute_cached_input_tokens",
                    "compute_output_tokens" = t."compute_output_tokens" + excluded."compute_output_tokens",
                    "compute_reasoning_tokens" = t."compute_reasoning_tokens" + excluded."compute_reasoning_tokens",
                    "license_cost" = t."license_cost" + excluded."license_cost",
                    "compute_cost" = t."compute_cost" + excluded."compute_cost",
                    "entries" = t."entries" + excluded."entries";
                RETURN NULL;
            END $$`);
    await queryRunner.query(
      `CREATE TRIGGER "tr_ledger_entries_totals" AFTER INSERT ON "ledger_entries" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "ledger_add_to_totals"()`,
    );

    // Creates the missing monthly partitions (UTC months) from p_from's month on; returns
    // how many it created. Serialized by a transaction advisory lock, so workers may race.
    await queryRunner.query(`CREATE FUNCTION "ledger_ensure_partitions"(p_from timestamptz, p_months integer) RETURNS integer LANGUAGE plpgsql AS $$
            DECLARE
                month_start timestamp;
                partition_name text;
                created integer := 0;
            BEGIN
                PERFORM pg_advisory_xact_lock(7246151002);
                FOR i IN 0 .. p_months - 1 LOOP
                    month_start := date_trunc('month', p_from AT TIME ZONE 'UTC') + make_interval(months => i);
                    partition_name := 'ledger_entries_' || to_char(month_start, 'YYYY_MM');
                    IF to_regclass(format('public.%I', partition_name)) IS NULL THEN
                        EXECUTE format('CREATE TABLE public.%I PARTITION OF public.ledger_entries FOR VALUES FROM (%L) TO (%L)',
                            partition_name, month_start AT TIME ZONE 'UTC', (month_start + interval '1 month') AT TIME ZONE 'UTC');
                        EXECUTE format('CREATE TRIGGER tr_ledger_entries_no_truncate BEFORE TRUNCATE ON public.%I FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()', partition_name);
                        created := created + 1;
                    END IF;
                END LOOP;
                RETURN created;
            END $$`);
    await queryRunner.query(`CREATE TABLE "ledger_entries_default" PARTITION OF "ledger_entries" DEFAULT`);
    await queryRunner.query(
      `CREATE TRIGGER "tr_ledger_entries_no_truncate" BEFORE TRUNCATE ON "ledger_entries_default" FOR EACH STATEMENT EXECUTE FUNCTION "ledger_refuse_change"()`,
    );
    await queryRunner.query(`SELECT "ledger_ensure_partitions"(now() - interval '12 months', 16)`);

    // Each work unit's outcome as of p_at (the last record at or before it); work units
    // without a record by then are absent: read them as PENDING.
    await queryRunner.query(`CREATE FUNCTION "work_unit_outcomes_as_of"(p_organization_id uuid, p_at timestamptz)
            RETURNS TABLE ("work_unit_id" uuid, "outcome" text, "quality_result" text, "human_reviewed" boolean, "decision" text,
                           "value_dimension" text, "value_amount" numeric, "evidence_confidence" numeric, "recorded_at" timestamptz, "recorded_by_principal_id" uuid)
            LANGUAGE sql STABLE AS $$
                SELECT DISTINCT ON (o."work_unit_id") o."work_unit_id", o."outcome", o."quality_result", o."human_reviewed", o."decision",
                       o."value_dimension", o."value_amount", o."evidence_confidence", o."recorded_at", o."recorded_by_principal_id"
                FROM "work_unit_outcomes" o
                WHERE o."organization_id" = p_organization_id AND o."recorded_at" <= p_at
                ORDER BY o."work_unit_id", o."recorded_at" DESC, o."id" DESC
            $$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION "work_unit_outcomes_as_of"(uuid, timestamptz)`);
    await queryRunner.query(`DROP TABLE "ledger_entries"`);
    await queryRunner.query(`DROP FUNCTION "ledger_ensure_partitions"(timestamptz, integer)`);
    await queryRunner.query(`DROP FUNCTION "ledger_add_to_totals"()`);
    await queryRunner.query(`DROP SEQUENCE "ledger_entries_id_seq"`);
    await queryRunner.query(`ALTER TABLE "work_units" DROP CONSTRAINT "fk_work_units_organization"`);
    await queryRunner.query(`DROP INDEX "public"."ix_model_prices_lookup"`);
    await queryRunner.query(`DROP TABLE "model_prices"`);
    await queryRunner.query(`DROP TABLE "ledger_event_keys"`);
    await queryRunner.query(`DROP INDEX "public"."ix_work_unit_outcomes_unit_recorded"`);
    await queryRunner.query(`DROP INDEX "public"."ix_work_unit_outcomes_organization_recorded"`);
    await queryRunner.query(`DROP TABLE "work_unit_outcomes"`);
    await queryRunner.query(`DROP INDEX "public"."ix_work_unit_totals_organization"`);
    await queryRunner.query(`DROP TABLE "work_unit_totals"`);
    await queryRunner.query(`DROP INDEX "public"."uq_work_units_organization_external_ref"`);
    await queryRunner.query(`DROP INDEX "public"."ix_work_units_organization_created"`);
    await queryRunner.query(`DROP TABLE "work_units"`);
    await queryRunner.query(`DROP FUNCTION "ledger_refuse_change"()`);
  }
}
