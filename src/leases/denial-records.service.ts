import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { NamedStatements } from '../common/database/named-statements';
import { AppError } from '../common/errors/app-error';
import { pageSize, requireWindow } from '../common/validation/validate';
import { APP_CONFIG, AppConfig } from '../config/env';
import { DenialEntity, DenialReason } from './denial.entity';
import { RECORD_DENIAL } from './hot-statements';

/** The PostgreSQL side of refused check-outs: one row per principal, app, pool and reason per window, with a count. */
@Injectable()
export class DenialRecordsService {
  private readonly statements: NamedStatements;

  constructor(
    @InjectRepository(DenialEntity) private readonly denials: Repository<DenialEntity>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.statements = new NamedStatements(denials.manager.connection);
  }

  /**
   * Counts a refusal on the row of the same principal, app, pool and reason in the current
   * DENIAL_COALESCE_SECONDS window (aligned on the database clock), or on a new row. One
   * statement: the unique key per window makes concurrent refusals on any replica add up on
   * that one row, none lost. The row keeps the first refusal's team and figures. With
   * coalescing off (0 s), every refusal is a row of its own.
   */
  async record(denial: {
    organizationId: string;
    poolId: string;
    appId: string;
    principalId: string;
    team: string | null;
    requested: number;
    available: number;
    reason: DenialReason;
  }): Promise<void> {
    await this.statements.run(RECORD_DENIAL, [
      denial.organizationId,
      denial.poolId,
      denial.appId,
      denial.principalId,
      denial.team,
      denial.requested,
      denial.available,
      denial.reason,
      this.config.denialCoalesceSeconds,
    ]);
  }

  /** A page of a pool's denial rows in [from, to), by id; `lastAt` is `at` for a row of one refusal. */
  async list(page: {
    organizationId: string;
    poolId: string;
    from: Date;
    to: Date;
    first?: number | null;
    after?: string | null;
  }): Promise<(DenialEntity & { lastAt: Date })[]> {
    requireWindow(page.from, page.to, { maxDays: 3660 });
    const first = pageSize(page.first);
    if (page.after && !/^[0-9]{1,19}$/.test(page.after)) throw AppError.badInput('after', 'after must be the id of the last denial of the previous page');
    const query = this.denials
      .createQueryBuilder('d')
      .where('d.organization_id = :org AND d.pool_id = :pool', { org: page.organizationId, pool: page.poolId })
      .andWhere('d.at >= :from AND d.at < :to', { from: page.from, to: page.to })
      .orderBy('d.id', 'ASC')
      .limit(first);
    if (page.after) query.andWhere('d.id > :after', { after: page.after });
    return (await query.getMany()).map((d) => ({ ...d, lastAt: d.lastAt ?? d.at }));
  }
}
