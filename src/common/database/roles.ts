import { Client } from 'pg';

/**
 * The two database roles. The owner (DATABASE_OWNER_URL) owns the schema: it applies the
 * migrations and, after each run, grants the application's role (DATABASE_URL) what the API
 * and the worker need. On the ledger that is SELECT and INSERT only: the application's role
 * can neither UPDATE, DELETE nor TRUNCATE a ledger row, nor ALTER or DROP the tables or
 * their triggers (only an owner may), so a compromised API cannot rewrite history.
 */

/** The ledger's append-only tables: the application's role may SELECT and INSERT, nothing else. */
export const LEDGER_TABLES = ['ledger_entries', 'ledger_event_keys', 'ledger_seals'] as const;

/** The ledger's partitioned parent: its partitions get no privilege at all (rows go through the parent). */
const PARTITIONED_LEDGER_TABLE = 'ledger_entries';

/** A role name as an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The user name a postgres URL connects as, or undefined when it names none (libpq defaults apply). */
export function userOfUrl(url: string): string | undefined {
  const user = decodeURIComponent(new URL(url).username);
  return user === '' ? undefined : user;
}

/** The role a URL connects as: its user name, or (when it names none) what the server says. */
export async function roleOfUrl(url: string): Promise<string> {
  const named = userOfUrl(url);
  if (named !== undefined) return named;
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return ((await client.query('SELECT current_user AS name')).rows[0] as { name: string }).name;
  } finally {
    await client.end();
  }
}

/**
 * The warning a process logs at start when the role it connects as could rewrite the ledger:
 * it owns the ledger (or is a member of its owner's role) or is a superuser, so only the
 * triggers stand in the way. One line, naming variables, never a URL. None when the role is
 * restricted (e.g. a worker given only DATABASE_URL, as the Helm chart does), or before the
 * ledger exists.
 */
export async function ledgerRewriteWarning(db: Queryable, config: { databaseOwnerUrl?: string }): Promise<string | undefined> {
  const [found] = await rows<{ can_rewrite: boolean }>(
    db,
    `SELECT r.rolsuper OR pg_has_role(current_user, c.relowner, 'MEMBER') AS can_rewrite
     FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = to_regclass('ledger_entries')`,
  );
  if (!found?.can_rewrite) return undefined;
  return config.databaseOwnerUrl === undefined
    ? 'DATABASE_OWNER_URL is not set and the role of DATABASE_URL owns the ledger: the ledger is protected by triggers only (see docs/operations.md, "The database roles")'
    : 'The role of DATABASE_URL owns the ledger or is a superuser (the same role as DATABASE_OWNER_URL?): the ledger is protected by triggers only (see docs/operations.md, "The database roles")';
}

/** Logs ledgerRewriteWarning's line, if any; a failing check never stops a start. */
export async function warnIfLedgerRewritable(db: Queryable, config: { databaseOwnerUrl?: string }, warn: (line: string) => void): Promise<void> {
  const warning = await ledgerRewriteWarning(db, config).catch(() => undefined);
  if (warning !== undefined) warn(warning);
}

/** Anything with a query method: a pg client or a TypeORM query runner, on the owner's connection. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

async function rows<T>(db: Queryable, text: string, values: unknown[] = []): Promise<T[]> {
  const result = (await db.query(text, values)) as T[] | { rows: T[] };
  return Array.isArray(result) ? result : result.rows;
}

/**
 * Grants the application's role what it needs, idempotently, as the schema's owner (run by
 * every migrate, after the migrations, under the migration lock):
 * - SELECT, INSERT, UPDATE, DELETE on every table and view of the schema, USAGE and SELECT
 *   on every sequence, EXECUTE on ledger_ensure_partitions();
 * - on the ledger's tables (LEDGER_TABLES, those that exist) SELECT and INSERT only, every
 *   other privilege revoked; on the partitions of ledger_entries nothing at all (an insert
 *   or a read through the parent checks the parent's privileges only, and a direct UPDATE
 *   of a partition is refused).
 * Refuses (throws) when the application's role owns a table of the schema or is a superuser:
 * it could then rewrite the ledger whatever is granted.
 */
export async function grantAppRole(db: Queryable, appRole: string, schema = 'public'): Promise<void> {
  const role = quoteIdent(appRole);
  const [found] = await rows<{ superuser: boolean }>(db, 'SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = $1', [appRole]);
  if (found === undefined)
    throw new Error(`The role DATABASE_URL connects as (${appRole}) does not exist: create it first (docs/operations.md, "The database roles")`);
  if (found.superuser)
    throw new Error(`The role DATABASE_URL connects as (${appRole}) is a superuser: it could rewrite the ledger; use a role without SUPERUSER`);
  // Owning a table, or being a member of its owner's role, carries every right on it.
  const owned = await rows<{ name: string }>(
    db,
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND pg_has_role($2, c.relowner, 'MEMBER') ORDER BY 1 LIMIT 5`,
    [schema, appRole],
  );
  if (owned.length > 0) {
    throw new Error(
      `The role DATABASE_URL connects as (${appRole}) owns ${owned.map((o) => o.name).join(', ')} (or is a member of its owner): it could rewrite the ledger. ` +
        `Hand its objects to the owner first: REASSIGN OWNED BY ${role} TO <owner>, or revoke the membership (docs/operations.md, "The database roles")`,
    );
  }
  const relations = await rows<{ name: string; kind: string; ledger_partition: boolean }>(
    db,
    `SELECT c.relname AS name, c.relkind AS kind,
            EXISTS (SELECT 1 FROM pg_partition_ancestors(c.oid) a WHERE a.relid <> c.oid AND a.relid = to_regclass(format('%I.%I', $1::text, $2::text))) AS ledger_partition
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
     ORDER BY c.relname`,
    [schema, PARTITIONED_LEDGER_TABLE],
  );
  const ns = quoteIdent(schema);
  await db.query(`GRANT USAGE ON SCHEMA ${ns} TO ${role}`);
  for (const { name, kind, ledger_partition } of relations) {
    const target = `${ns}.${quoteIdent(name)}`;
    if (kind === 'S') {
      await db.query(`GRANT USAGE, SELECT ON SEQUENCE ${target} TO ${role}`);
    } else if (ledger_partition) {
      await db.query(`REVOKE ALL ON TABLE ${target} FROM ${role}`);
    } else if ((LEDGER_TABLES as readonly string[]).includes(name)) {
      await db.query(`REVOKE ALL ON TABLE ${target} FROM ${role}`);
      await db.query(`GRANT SELECT, INSERT ON TABLE ${target} TO ${role}`);
    } else {
      await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE ${target} TO ${role}`);
    }
  }
  const [partitionFunction] = await rows<{ found: boolean }>(
    db,
    `SELECT to_regprocedure(format('%I.ledger_ensure_partitions(timestamptz, integer)', $1::text)) IS NOT NULL AS found`,
    [schema],
  );
  if (partitionFunction?.found) await db.query(`GRANT EXECUTE ON FUNCTION ${ns}.ledger_ensure_partitions(timestamptz, integer) TO ${role}`);
}
