import { MigrationInterface, QueryRunner } from 'typeorm';

// The sealed ledger (docs/ledger-audit.md): each organization's ledger rows are sealed in
// order, each seal a SHA-256 over the previous seal's digest and the rows it covers.
//
// Which rows a seal covers is decided by PostgreSQL's own visibility, so that no row falls
// between two seals whatever commits while a seal is made: every ledger row records the id
// of the transaction that wrote it (tx_id, set by its default), and every seal records the
// snapshot it was made in. Seal k covers the rows visible in its snapshot and not in the
// snapshot of seal k-1. Rows written before this migration read tx_id 1 (visible in every
// snapshot), so they all go to an organization's first seal.
//
// ledger_seals is append-only, like the ledger.
export class LedgerSeals1795500000000 implements MigrationInterface {
  name = 'LedgerSeals1795500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // A constant default fills the existing rows without rewriting them; new rows get their
    // writer's transaction id from the second default.
    await queryRunner.query(`ALTER TABLE "ledger_entries" ADD "tx_id" xid8 NOT NULL DEFAULT '1'`);
    await queryRunner.query(`ALTER TABLE "ledger_entries" ALTER COLUMN "tx_id" SET DEFAULT pg_current_xact_id()`);
    // A seal's rows in (tx_id, id) order, straight from the index: no sort, however many.
    await queryRunner.query(`CREATE INDEX "ix_ledger_entries_organization_tx" ON "ledger_entries" ("organization_id", "tx_id", "id")`);
    await queryRunner.query(
      `CREATE TABLE "ledger_seals" (
            "organization_id" uuid NOT NULL,
            "sequence" integer NOT NULL,
            "rows" bigint NOT NULL,
            "first_recorded_at" TIMESTAMP WITH TIME ZONE,
            "last_recorded_at" TIMESTAMP WITH TIME ZONE,
            "previous_digest" text NOT NULL,
            "digest" text NOT NULL,
            "snapshot" pg_snapshot NOT NULL,
            "sealed_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
            CONSTRAINT "pk_ledger_seals" PRIMARY KEY ("organization_id", "sequence"),
            CONSTRAINT "ck_ledger_seals_sequence" CHECK ("sequence" >= 1),
            CONSTRAINT "ck_ledger_seals_digests" CHECK ("digest" ~ '^[0-9a-f]{64}$' AND "previous_digest" ~ '^[0-9a-f]{64}$')
        )`,
    );
    await queryRunner.query(
      `CREATE TRIGGER "tr_ledger_seals_append_only" BEFORE UPDATE OR DELETE ON "ledger_seals" FOR EACH ROW EXECUTE FUNCTION "ledger_refuse_change"()`,
    );
    await queryRunner.query(
      `CREATE TRIGGER "tr_ledger_seals_no_truncate" BEFORE TRUNCATE ON "ledger_seals" FOR EACH STATEMENT EXECUTE FUNCTION "ledger_refuse_change"()`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "ledger_seals"`);
    await queryRunner.query(`DROP INDEX "ix_ledger_entries_organization_tx"`);
    await queryRunner.query(`ALTER TABLE "ledger_entries" DROP COLUMN "tx_id"`);
  }
}
