import { MigrationInterface, QueryRunner } from 'typeorm';

// What the finance reports (burnReport, attributionCoverage, costPerOutcome) read instead of
// every ledger row of a window:
// - ledger_daily_usage: per organization, UTC day and "subject" (the work unit, or for rows
//   on no work unit their principal), the sums those reports read: compute tokens and cost,
//   license credit-seconds and cost, entries. Kept by a new AFTER INSERT statement trigger
//   on ledger_entries, in the same statement as the insert. Written by hand: no entity maps
//   it. Its key allows a null work unit or principal; NULLS NOT DISTINCT (PostgreSQL 15)
//   makes the unique index, and so ON CONFLICT, treat them as one key. Subject first in the
//   key: reports read a given work unit's or principal's days.
// - work_unit_totals gains first_day and last_day, the UTC days of the work unit's first
//   and last row, kept by its existing trigger in the same upsert (ledger_add_to_totals is
//   replaced). A work unit whose days all lie inside a report's whole days is read from
//   its totals in one row; per-unit all-time sums in a table of their own would cost every
//   ledger insert a second upsert per work unit.
// work_unit_totals sums quantities by meter, the rollup by kind; they agree because a
// CORRECTION carries no quantities, which a CHECK constraint now holds the ledger to.
// The ledger refuses UPDATE, DELETE and TRUNCATE, so both stay the sums of the rows,
// history imports and corrections (dated like the row they price) included. The trigger is
// created first: CREATE TRIGGER holds off concurrent inserts until this migration commits,
// and the backfill then sees every row committed before it.

const DAY = `(n."occurred_at" AT TIME ZONE 'UTC')::date`;

// The definitions of the reports' UNIT_USAGE_CTE (src/outcome-reports/outcome-usage.sql.ts)
// over ledger rows `n`: tokens and credit-seconds by kind, cost by meter (a CORRECTION adds
// cost only), an unpriced row no cost. Grouped per subject and day, inserted in key order so
// concurrent inserts lock rollup rows in one order.
const ADD_TO_DAILY_USAGE = (rows: string) => `
    INSERT INTO "ledger_daily_usage" AS r ("organization_id", "work_unit_id", "principal_id", "day",
            "compute_tokens", "compute_cost", "license_credit_seconds", "license_cost", "entries")
    SELECT n."organization_id", n."work_unit_id", CASE WHEN n."work_unit_id" IS NULL THEN n."principal_id" END, ${DAY},
           coalesce(sum(n."input_tokens" + n."output_tokens") FILTER (WHERE n."kind" = 'COMPUTE'), 0),
           coalesce(sum(n."cost") FILTER (WHERE n."meter" = 'COMPUTE'), 0),
           coalesce(sum(n."credit_seconds") FILTER (WHERE n."kind" = 'LICENSE'), 0),
           coalesce(sum(n."cost") FILTER (WHERE n."meter" = 'LICENSE'), 0),
           count(*)
    FROM ${rows} n
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT ("organization_id", "work_unit_id", "principal_id", "day") DO UPDATE SET
        "compute_tokens" = r."compute_tokens" + excluded."compute_tokens",
        "compute_cost" = r."compute_cost" + excluded."compute_cost",
        "license_credit_seconds" = r."license_credit_seconds" + excluded."license_credit_seconds",
        "license_cost" = r."license_cost" + excluded."license_cost",
        "entries" = r."entries" + excluded."entries"`;

// ledger_add_to_totals as migration UsageLedger wrote it, plus first_day and last_day when
// `withDays`.
const ADD_TO_TOTALS = (withDays: boolean) => `CREATE OR REPLACE FUNCTION "ledger_add_to_totals"() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                -- Ordered by work unit, so concurrent inserts lock totals rows in one order.
                INSERT INTO "work_unit_totals" AS t ("work_unit_id", "organization_id", "license_credit_seconds", "license_idle_credit_seconds",
                        "compute_input_tokens", "compute_cached_input_tokens", "compute_output_tokens", "compute_reasoning_tokens",
                        "license_cost", "compute_cost", "entries"${withDays ? `, "first_day", "last_day"` : ''})
                SELECT n."work_unit_id", (array_agg(n."organization_id"))[1],
                       coalesce(sum(n."credit_seconds") FILTER (WHERE n."meter" = 'LICENSE'), 0),
                       coalesce(sum(n."idle_credit_seconds") FILTER (WHERE n."meter" = 'LICENSE'), 0),
                       coalesce(sum(n."input_tokens") FILTER (WHERE n."meter" = 'COMPUTE'), 0),
                       coalesce(sum(n."cached_input_tokens") FILTER (WHERE n."meter" = 'COMPUTE'), 0),
                       coalesce(sum(n."output_tokens") FILTER (WHERE n."meter" = 'COMPUTE'), 0),
                       coalesce(sum(n."reasoning_tokens") FILTER (WHERE n."meter" = 'COMPUTE'), 0),
                       coalesce(sum(n."cost") FILTER (WHERE n."meter" = 'LICENSE'), 0),
                       coalesce(sum(n."cost") FILTER (WHERE n."meter" = 'COMPUTE'), 0),
                       count(*)${withDays ? `, min(${DAY}), max(${DAY})` : ''}
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
                    "entries" = t."entries" + excluded."entries"${
                      withDays
                        ? `,
                    "first_day" = least(t."first_day", excluded."first_day"),
                    "last_day" = greatest(t."last_day", excluded."last_day")`
                        : ''
                    };
                RETURN NULL;
            END $$`;

export class LedgerUsageRollups1795440000000 implements MigrationInterface {
  name = 'LedgerUsageRollups1795440000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "ledger_entries" ADD CONSTRAINT "ck_ledger_entries_correction_quantities" CHECK ("kind" <> 'CORRECTION' OR ("credit_seconds" = 0 AND "idle_credit_seconds" = 0 AND "input_tokens" = 0 AND "cached_input_tokens" = 0 AND "output_tokens" = 0 AND "reasoning_tokens" = 0))`,
    );
    await queryRunner.query(`CREATE TABLE "ledger_daily_usage" (
            "organization_id" uuid NOT NULL,
            "work_unit_id" uuid,
            "principal_id" uuid,
            "day" date NOT NULL,
            "compute_tokens" bigint NOT NULL DEFAULT 0,
            "compute_cost" numeric(28,9) NOT NULL DEFAULT 0,
            "license_credit_seconds" numeric(24,3) NOT NULL DEFAULT 0,
            "license_cost" numeric(28,9) NOT NULL DEFAULT 0,
            "entries" bigint NOT NULL DEFAULT 0,
            CONSTRAINT "ck_ledger_daily_usage_subject" CHECK ("work_unit_id" IS NULL OR "principal_id" IS NULL)
        )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_ledger_daily_usage_subject_day" ON "ledger_daily_usage" ("organization_id", "work_unit_id", "principal_id", "day") NULLS NOT DISTINCT`,
    );
    await queryRunner.query(`CREATE FUNCTION "ledger_add_to_daily_usage"() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                ${ADD_TO_DAILY_USAGE('new_rows')};
                RETURN NULL;
            END $$`);
    await queryRunner.query(
      `CREATE TRIGGER "tr_ledger_entries_daily_usage" AFTER INSERT ON "ledger_entries" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "ledger_add_to_daily_usage"()`,
    );
    await queryRunner.query(`ALTER TABLE "work_unit_totals" ADD "first_day" date, ADD "last_day" date`);
    await queryRunner.query(ADD_TO_TOTALS(true));

    await queryRunner.query(ADD_TO_DAILY_USAGE('"ledger_entries"'));
    await queryRunner.query(`UPDATE "work_unit_totals" t SET "first_day" = d."first_day", "last_day" = d."last_day"
            FROM (SELECT "work_unit_id", min("day") AS "first_day", max("day") AS "last_day" FROM "ledger_daily_usage"
                  WHERE "work_unit_id" IS NOT NULL GROUP BY 1) d
            WHERE t."work_unit_id" = d."work_unit_id"`);
    await queryRunner.query(`ALTER TABLE "work_unit_totals" ALTER "first_day" SET NOT NULL, ALTER "last_day" SET NOT NULL`);
    // A report window's work units: those whose last day is in the window or after it.
    await queryRunner.query(`CREATE INDEX "ix_work_unit_totals_organization_last_day" ON "work_unit_totals" ("organization_id", "last_day")`);
    // Statistics now, not at autovacuum's leisure: without them the reports' planner may
    // take the backfilled rollup for empty and join it row by row.
    await queryRunner.query(`ANALYZE "ledger_daily_usage", "work_unit_totals"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(ADD_TO_TOTALS(false));
    await queryRunner.query(`DROP INDEX "public"."ix_work_unit_totals_organization_last_day"`);
    await queryRunner.query(`ALTER TABLE "work_unit_totals" DROP COLUMN "last_day", DROP COLUMN "first_day"`);
    await queryRunner.query(`DROP TRIGGER "tr_ledger_entries_daily_usage" ON "ledger_entries"`);
    await queryRunner.query(`DROP FUNCTION "ledger_add_to_daily_usage"()`);
    await queryRunner.query(`DROP INDEX "public"."uq_ledger_daily_usage_subject_day"`);
    await queryRunner.query(`DROP TABLE "ledger_daily_usage"`);
    await queryRunner.query(`ALTER TABLE "ledger_entries" DROP CONSTRAINT "ck_ledger_entries_correction_quantities"`);
  }
}
