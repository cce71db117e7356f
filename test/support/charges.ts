import { Client } from 'pg';

/**
 * What PostgreSQL recorded for a load's acknowledged leases: the "no lost usage" and "no
 * double charge" promises, read straight from the tables. A lease is charged through its
 * draw: the draw's LICENSE row carries the lease that opened it.
 */
async function query<T>(databaseUrl: string, sql: string, params: unknown[]): Promise<T[]> {
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  try {
    return (await pg.query(sql, params)).rows as T[];
  } finally {
    await pg.end();
  }
}

/** Leases with no row, or whose draw has no LICENSE row in the ledger. */
export async function unchargedLeases(databaseUrl: string, leaseIds: string[]): Promise<string[]> {
  const rows = await query<{ id: string }>(
    databaseUrl,
    `SELECT a.id FROM unnest($1::uuid[]) a(id) LEFT JOIN leases l ON l.id = a.id
     WHERE l.id IS NULL OR NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.kind = 'LICENSE' AND e.draw_id = l.draw_id)`,
    [leaseIds],
  );
  return rows.map((r) => r.id);
}

/** Draws of these leases with more than one LICENSE row. */
export async function drawsChargedTwice(databaseUrl: string, leaseIds: string[]): Promise<string[]> {
  const rows = await query<{ draw_id: string }>(
    databaseUrl,
    `SELECT e.draw_id FROM ledger_entries e
     WHERE e.kind = 'LICENSE' AND e.draw_id IN (SELECT draw_id FROM leases WHERE id = ANY($1::uuid[]))
     GROUP BY e.draw_id HAVING count(*) > 1`,
    [leaseIds],
  );
  return rows.map((r) => r.draw_id);
}

/** How the draws of these leases were learnt: { stream: n, reconciled: m }. */
export async function drawSources(databaseUrl: string, leaseIds: string[]): Promise<Record<string, number>> {
  const rows = await query<{ source: string; n: number }>(
    databaseUrl,
    `SELECT source, count(*)::int AS n FROM lease_draws WHERE id IN (SELECT draw_id FROM leases WHERE id = ANY($1::uuid[])) GROUP BY source`,
    [leaseIds],
  );
  return Object.fromEntries(rows.map((r) => [r.source, r.n]));
}

/** Leases PostgreSQL still shows ACTIVE. */
export async function stillActive(databaseUrl: string, leaseIds: string[]): Promise<string[]> {
  const rows = await query<{ id: string }>(databaseUrl, `SELECT id FROM leases WHERE id = ANY($1::uuid[]) AND state = 'ACTIVE'`, [leaseIds]);
  return rows.map((r) => r.id);
}
