import { MigrationInterface, QueryRunner } from 'typeorm';

// The ledger's partition upkeep runs as the schema's owner whoever calls it: the API and the
// worker connect as a role that may only SELECT and INSERT the ledger (see grantAppRole in
// src/common/database/roles.ts), and creating a partition of ledger_entries needs its owner.
// - ledger_ensure_partitions() becomes SECURITY DEFINER with a fixed search_path, so a caller
//   cannot slip objects of its own in front of the ones it names;
// - EXECUTE is taken from PUBLIC: the migrate step grants it to the application's role;
// - each new partition is stripped of any privilege that default privileges may have handed
//   out: the application's rows reach a partition through the parent only.
export class LedgerOwnerFunctions1795510000000 implements MigrationInterface {
  name = 'LedgerOwnerFunctions1795510000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE OR REPLACE FUNCTION "ledger_ensure_partitions"(p_from timestamptz, p_months integer) RETURNS integer
            LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
            DECLARE
                month_start timestamp;
                partition_name text;
                grantee text;
                created integer := 0;
            BEGIN
                PERFORM pg_advisory_xact_lock(7246151002);
                FOR i IN 0 .. p_months - 1 LOOP
                    month_start := date_trunc('month', p_from AT TIME ZONE 'UTC') + make_interval(months => i);
                    partition_name := 'ledger_entries_' || to_char(month_start, 'YYYY_MM');
                    IF to_regclass(format('public.%I', partition_name)) IS NULL THEN
                        EXECUTE format('CREATE TABLE public.%I PARTITION OF public.ledger_entries FOR VALUES FROM (%L) TO (%L)',
                            partition_name, month_start AT TIME ZONE 'UTC', (month_start + interval '1 month') AT TIME ZONE 'UTC');
                        EXECUTE format('CREATE TRIGGER tr_ledger_entries_no_truncate BEFORE TRUNCATE ON public.%I FOR EACH STATEMENT EXECUTE FUNCTION public.ledger_refuse_change()', partition_name);
                        FOR grantee IN
                            SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END
                            FROM pg_class c, aclexplode(c.relacl) a
                            WHERE c.oid = format('public.%I', partition_name)::regclass AND a.grantee <> c.relowner
                        LOOP
                            EXECUTE format('REVOKE ALL ON public.%I FROM %s', partition_name, grantee);
                        END LOOP;
                        created := created + 1;
                    END IF;
                END LOOP;
                RETURN created;
            END $$`);
    await queryRunner.query(`REVOKE ALL ON FUNCTION "ledger_ensure_partitions"(timestamptz, integer) FROM PUBLIC`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // The function as UsageLedger1795400000000 made it: SECURITY INVOKER, anyone may call it.
    await queryRunner.query(`CREATE OR REPLACE FUNCTION "ledger_ensure_partitions"(p_from timestamptz, p_months integer) RETURNS integer
            LANGUAGE plpgsql SECURITY INVOKER AS $$
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
    await queryRunner.query(`GRANT EXECUTE ON FUNCTION "ledger_ensure_partitions"(timestamptz, integer) TO PUBLIC`);
  }
}
