import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/**
 * The epoch of each organization's budget state (compute_budget_states). A write Redis must
 * see reads it under a share lock in its own transaction and hands it to Redis after the
 * commit; Redis ignores a write of another epoch, because the rebuild that raised it read
 * that write from PostgreSQL already.
 */
@Injectable()
export class BudgetEpochs {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The organization's epoch, share-locked until the transaction ends; null when it never had a budget. */
  async shared(manager: EntityManager, organizationId: string): Promise<string | null> {
    const rows: { epoch: string }[] = await manager.query('SELECT epoch::text AS epoch FROM compute_budget_states WHERE organization_id = $1 FOR SHARE', [
      organizationId,
    ]);
    return rows[0]?.epoch ?? null;
  }

  /** As shared, creating the row (epoch 0, which no Redis state carries) when missing. */
  async sharedOrNew(manager: EntityManager, organizationId: string): Promise<string> {
    await manager.query('INSERT INTO compute_budget_states (organization_id) VALUES ($1) ON CONFLICT DO NOTHING', [organizationId]);
    return (await this.shared(manager, organizationId))!;
  }

  async current(organizationId: string): Promise<string | null> {
    const rows: { epoch: string }[] = await this.dataSource.query('SELECT epoch::text AS epoch FROM compute_budget_states WHERE organization_id = $1', [
      organizationId,
    ]);
    return rows[0]?.epoch ?? null;
  }

  /**
   * A write committed under `epoch` did not reach Redis (Redis failed after the commit): the
   * epoch is raised, so the next use of the budgets finds Redis stale and rebuilds it.
   */
  async raise(organizationId: string, epoch: string): Promise<void> {
    await this.dataSource.query('UPDATE compute_budget_states SET epoch = epoch + 1 WHERE organization_id = $1 AND epoch = $2', [organizationId, epoch]);
  }
}
