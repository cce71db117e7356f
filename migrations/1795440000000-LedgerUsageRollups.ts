import { MigrationInterface, QueryRunner } from "typeorm";

// Rollups of the ledger for the finance reports (burnReport, attributionCoverage,
// costPerOutcome), per organization and "subject": the work unit, or for rows on no work
// unit their principal. Written by hand: no entity maps them.
// - ledger_daily_usage: per subject and UTC day, the sums those reports read (compute
//   tokens and cost, license credit-seconds and cost, entries).
// - ledger_subject_usage: per subject, the same sums over all time and the first and last
//   day with a row. A work unit whose days all lie inside a report's whole days is read
//   from here in one row; only the few that straddle the window's edges, and principals,
//   are read day by day.
// Both are kept by one AFTER INSERT statement trigger on ledger_entries, in the same
// statement as the insert, like work_unit_totals. The ledger refuses UPDATE, DELETE and
// TRUNCATE, so the rollups are always the sums of the rows, history imports and corrections
// (dated like the row they price) included. The keys allow a null work unit or principal;
// NULLS NOT DISTINCT (PostgreSQL 15) makes the unique indexes, and so ON CONFLICT, treat
// them as one key. The trigger is created before the backfill: CREATE TRIGGER holds off
// concurrent inserts until this migration commits, and the backfill then sees every row
// committed before it.

const SUMS = `"compute_tokens" bigint NOT NULL DEFAULT 0,
            "compute_cost" numeric(28,9) NOT NULL DEFAULT 0,
            "license_credit_seconds" numeric(24,3) NOT NULL DEFAULT 0,
            "license_cost" numeric(28,9) NOT NULL DEFAULT 0,
            "entries" bigint NOT NULL DEFAULT 0`;

// The definitions of the reports' UNIT_USAGE_CTE (src/outcome-reports/outcome-usage.sql.ts)
// over a set of ledger rows `e`: tokens and credit-seconds by kind, cost by meter (a
// CORRECTION adds cost only), an unpriced row no cost. Grouped per subject and day.
const DAY_SUMS = (rows: string) => `
    SELECT e."organization_id", e."work_unit_id", CASE WHEN e."work_unit_id" IS NULL THEN e."principal_id" END AS "principal_id",
           (e."occurred_at" AT TIME ZONE 'UTC')::date AS "day",
           coalesce(sum(e."input_tokens" + e."output_tokens") FILTER (WHERE e."kind" = 'COMPUTE'), 0) AS "compute_tokens",
           coalesce(sum(e."cost") FILTER (WHERE e."meter" = 'COMPUTE'), 0) AS "compute_cost",
           coalesce(sum(e."credit_seconds") FILTER (WHERE e."kind" = 'LICENSE'), 0) AS "license_credit_seconds",
           coalesce(sum(e."cost") FILTER (WHERE e."meter" = 'LICENSE'), 0) AS "license_cost",
           count(*) AS "entries"
    FROM ${rows} e
    GROUP BY 1, 2, 3, 4`;

// Adds day sums (relation `days`) to both rollups. Rows are inserted in key order, daily
// rollup first, so concurrent inserts lock rollup rows in one order.
const ADD_DAYS = `
    daily AS (
        INSERT INTO "ledger_daily_usage" AS r ("organization_id", "work_unit_id", "principal_id", "day",
                "compute_tokens", "compute_cost", "license_credit_seconds", "license_cost", "entries")
        SELECT * FROM days
        ORDER BY 1, 2, 3, 4
        ON CONFLICT ("organization_id", "work_unit_id", "principal_id", "day") DO UPDATE SET
            "compute_tokens" = r."compute_tokens" + excluded."compute_tokens",
            "compute_cost" = r."compute_cost" + excluded."compute_cost",
            "license_credit_seconds" = r."license_credit_seconds" + excluded."license_credit_seconds",
            "license_cost" = r."license_cost" + excluded."license_cost",
            "entries" = r."entries" + excluded."entries"
    )
    INSERT INTO "ledger_subject_usage" AS s ("organization_id", "work_unit_id", "principal_id", "first_day", "last_day",
            "compute_tokens", "compute_cost", "license_credit_seconds", "license_cost", "entries")
    SELECT "organization_id", "work_unit_id", "principal_id", min("day"), max("day"),
           sum("compute_tokens"), sum("compute_cost"), sum("license_credit_seconds"), sum("license_cost"), sum("entries")
    FROM days
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT ("organization_id", "work_unit_id", "principal_id") DO UPDATE SET
        "first_day" = least(s."first_day", excluded."first_day"),
        "last_day" = greatest(s."last_day", excluded."last_day"),
        "compute_tokens" = s."compute_tokens" + excluded."compute_tokens",
        "compute_cost" = s."compute_cost" + excluded."compute_cost",
        "license_credit_seconds" = s."license_credit_seconds" + excluded."license_credit_seconds",
        "license_cost" = s."license_cost" + excluded."license_cost",
        "entries" = s."entries" + excluded."entries"`;

export class LedgerUsageRollups1795440000000 implements MigrationInterface {
    name = 'LedgerUsageRollups1795440000000'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "ledger_daily_usage" (
            "organization_id" uuid NOT NULL,
            "work_unit_id" uuid,
            "principal_id" uuid,
            "day" date NOT NULL,
            ${SUMS},
            CONSTRAINT "ck_ledger_daily_usage_subject" CHECK ("work_unit_id" IS NULL OR "principal_id" IS NULL)
        )`);
        // Subject first: the reports read a straddling work unit's or a principal's days.
        await queryRunner.query(`CREATE UNIQUE INDEX "uq_ledger_daily_usage_subject_day" ON "ledger_daily_usage" ("organization_id", "work_unit_id", "principal_id", "day") NULLS NOT DISTINCT`);
        await queryRunner.query(`CREATE TABLE "ledger_subject_usage" (
            "organization_id" uuid NOT NULL,
            "work_unit_id" uuid,
            "principal_id" uuid,
            "first_day" date NOT NULL,
            "last_day" date NOT NULL,
            ${SUMS},
            CONSTRAINT "ck_ledger_subject_usage_subject" CHECK ("work_unit_id" IS NULL OR "principal_id" IS NULL)
        )`);
        await queryRunner.query(`CREATE UNIQUE INDEX "uq_ledger_subject_usage_subject" ON "ledger_subject_usage" ("organization_id", "work_unit_id", "principal_id") NULLS NOT DISTINCT`);
        // A report window's subjects: those whose last day is in it or after it.
        await queryRunner.query(`CREATE INDEX "ix_ledger_subject_usage_organization_last_day" ON "ledger_subject_usage" ("organization_id", "last_day")`);

        await queryRunner.query(`CREATE FUNCTION "ledger_add_to_usage"() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                WITH days AS (${DAY_SUMS('new_rows')}),
                ${ADD_DAYS};
                RETURN NULL;
            END $$`);
        await queryRunner.query(`CREATE TRIGGER "tr_ledger_entries_usage" AFTER INSERT ON "ledger_entries" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "ledger_add_to_usage"()`);
        await queryRunner.query(`WITH days AS (${DAY_SUMS('"ledger_entries"')}), ${ADD_DAYS}`);
        // Statistics now, not at autovacuum's leisure: without them the reports' planner may
        // take the backfilled tables for empty and join them row by row.
        await queryRunner.query(`ANALYZE "ledger_daily_usage", "ledger_subject_usage"`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP TRIGGER "tr_ledger_entries_usage" ON "ledger_entries"`);
        await queryRunner.query(`DROP FUNCTION "ledger_add_to_usage"()`);
        await queryRunner.query(`DROP INDEX "public"."ix_ledger_subject_usage_organization_last_day"`);
        await queryRunner.query(`DROP INDEX "public"."uq_ledger_subject_usage_subject"`);
        await queryRunner.query(`DROP TABLE "ledger_subject_usage"`);
        await queryRunner.query(`DROP INDEX "public"."uq_ledger_daily_usage_subject_day"`);
        await queryRunner.query(`DROP TABLE "ledger_daily_usage"`);
    }

}
