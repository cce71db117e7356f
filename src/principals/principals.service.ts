import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { EntityManager, In, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { AppError } from '../common/errors/app-error';
import { isUuid, optionalText, requireText } from '../common/validation/validate';
import { CreatePrincipalInput } from './dto/create-principal.input';
import { PrincipalEntity } from './principal.entity';

export interface CreatePrincipalCommand {
  organizationId: string;
  actorPrincipalId: string;
  input: CreatePrincipalInput;
}

@Injectable()
export class PrincipalsService {
  constructor(
    @InjectRepository(PrincipalEntity) private readonly principals: Repository<PrincipalEntity>,
    private readonly audit: AuditService,
  ) {}

  async create(command: CreatePrincipalCommand): Promise<PrincipalEntity> {
    const { input } = command;
    const values = {
      organizationId: command.organizationId,
      name: requireText(input.name, 'input.name', { max: 200 }),
      kind: input.kind,
      team: optionalText(input.team, 'input.team', { max: 100 }),
      orgUnitKind: input.orgUnitKind,
    };
    return this.principals.manager.transaction(async (manager) => {
      const principal = await manager.save(PrincipalEntity, manager.create(PrincipalEntity, values));
      await this.audit.record(manager, {
        organizationId: command.organizationId,
        actorPrincipalId: command.actorPrincipalId,
        action: 'createPrincipal',
        objectId: principal.id,
        before: null,
        after: values,
      });
      return principal;
    });
  }

  /** Inserts without an audit actor: for creating an organization's first admin. */
  async insertFirst(manager: EntityManager, values: Omit<PrincipalEntity, 'id' | 'createdAt'>): Promise<PrincipalEntity> {
    return manager.save(PrincipalEntity, manager.create(PrincipalEntity, values));
  }

  async list(organizationId: string): Promise<PrincipalEntity[]> {
    return this.principals.find({ where: { organizationId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** A principal of the caller's organization, or null (another organization's ids included). */
  async findInOrganization(organizationId: string, id: string): Promise<PrincipalEntity | null> {
    if (!isUuid(id)) return null;
    return this.principals.findOneBy({ id, organizationId });
  }

  /** The principals of the organization among these ids, in one query; others' and malformed ids are left out. */
  async findManyInOrganization(organizationId: string, ids: string[]): Promise<PrincipalEntity[]> {
    const valid = ids.filter(isUuid);
    return valid.length === 0 ? [] : this.principals.findBy({ organizationId, id: In(valid) });
  }

  /** As findInOrganization, for mutations: NOT_FOUND when the id is not the caller's. */
  async getInOrganization(organizationId: string, id: string, field = 'principalId'): Promise<PrincipalEntity> {
    const principal = await this.findInOrganization(organizationId, id);
    if (!principal) throw new AppError('NOT_FOUND', `No principal with id ${id} in your organization`, { field });
    return principal;
  }
}
