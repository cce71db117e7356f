import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, Repository } from 'typeorm';
import { AppError } from '../common/errors/app-error';
import { pageSize, requireWindow } from '../common/validation/validate';
import { AuditEntryEntity } from './audit-entry.entity';

/** Who makes an administrative change, within which organization. */
export interface AuditActor {
  organizationId: string;
  actorPrincipalId: string;
}

export interface AuditRecord extends AuditActor {
  action: string;
  objectId: string;
  before: object | null;
  after: object | null;
}

export interface AuditPage {
  organizationId: string;
  from: Date;
  to: Date;
  first?: number | null;
  after?: string | null;
}

@Injectable()
export class AuditService {
  constructor(@InjectRepository(AuditEntryEntity) private readonly entries: Repository<AuditEntryEntity>) {}

  /** Written with the change, in the caller's transaction, so a change never lands without its entry. */
  async record(manager: EntityManager, record: AuditRecord): Promise<void> {
    await manager.getRepository(AuditEntryEntity).insert(manager.create(AuditEntryEntity, record));
  }

  /** Oldest first within [from, to); `after` is the id of the last entry of the previous page. */
  async list(page: AuditPage): Promise<AuditEntryEntity[]> {
    requireWindow(page.from, page.to, { maxDays: 3660 });
    const first = pageSize(page.first);
    if (page.after !== undefined && page.after !== null && !/^[0-9]{1,19}$/.test(page.after)) {
      throw AppError.badInput('after', 'after must be the id of an audit entry');
    }
    const query = this.entries
      .createQueryBuilder('e')
      .where('e.organization_id = :org', { org: page.organizationId })
      .andWhere('e.at >= :from AND e.at < :to', { from: page.from, to: page.to })
      .orderBy('e.id', 'ASC')
      .limit(first);
    if (page.after) query.andWhere('e.id > :after', { after: page.after });
    return query.getMany();
  }
}
