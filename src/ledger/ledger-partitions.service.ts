import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/** Monthly partitions kept ready ahead of time, so the default partition stays for backfills only. */
export const LEDGER_MONTHS_AHEAD = 3;

/**
 * Creates the ledger's monthly partitions ahead of need, through the SQL function the
 * migration defines (idempotent, serialized by an advisory lock). A month that never got
 * its partition still loses nothing: its rows land in the default partition.
 */
@Injectable()
export class LedgerPartitionsService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Ensures partitions for this month and the next LEDGER_MONTHS_AHEAD; returns how many it created. */
  async ensureAhead(now = new Date()): Promise<number> {
    const rows: { created: number }[] = await this.dataSource.query('SELECT ledger_ensure_partitions($1, $2) AS created', [now, LEDGER_MONTHS_AHEAD + 1]);
    return rows[0].created;
  }
}
