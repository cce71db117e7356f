import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/**
 * A statement PostgreSQL parses and plans once per connection and then runs by name. A name
 * stands for one text for the life of the process (declare each as a constant): node-postgres
 * refuses a known name with another text.
 */
export interface NamedStatement {
  name: string;
  text: string;
}

/**
 * The one way to the pg pool under TypeORM: named statements, for the hot path only (the group commits of check-out
 * and check-in, the denial upsert): there TypeORM's query wrapper and parsing and planning a
 * long statement each time cost more than running it. It uses the data source's own pool, so
 * the statements share its connections, limits and shutdown. Everything else uses
 * repositories or the data source.
 */
export class NamedStatements {
  constructor(private readonly dataSource: DataSource) {}

  /** The rows the statement returns (none for a statement without RETURNING). */
  async run<T>(statement: NamedStatement, values: unknown[]): Promise<T[]> {
    return (await this.pool().query({ name: statement.name, text: statement.text, values })).rows as T[];
  }

  /**
   * The rows of a bulk read as arrays of column values, not objects: for reads of a million
   * rows (the cap replay), where building row objects costs more than the query itself.
   */
  async arrays<T extends unknown[]>(text: string, values: unknown[]): Promise<T[]> {
    return (await this.pool().query({ text, values, rowMode: 'array' })).rows as T[];
  }

  private pool(): Pool {
    return (this.dataSource.driver as PostgresDriver).master as Pool;
  }
}
