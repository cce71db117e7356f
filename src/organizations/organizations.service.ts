import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { OrganizationEntity } from './organization.entity';

@Injectable()
export class OrganizationsService {
  constructor(@InjectRepository(OrganizationEntity) private readonly organizations: Repository<OrganizationEntity>) {}

  /** Only ever called with the caller's own organization id, taken from its key. */
  async get(id: string): Promise<OrganizationEntity> {
    return this.organizations.findOneByOrFail({ id });
  }
}
