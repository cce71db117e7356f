import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { AppError } from '../common/errors/app-error';
import { requireText } from '../common/validation/validate';
import { OrganizationEntity } from '../organizations/organization.entity';
import { PrincipalsService } from '../principals/principals.service';

export interface OrganizationCreated {
  organizationId: string;
  adminKey: string;
}

/** Creates tenants: an organization, its first ADMIN principal and that principal's key, in one transaction. */
@Injectable()
export class OnboardingService {
  private readonly logger = new Logger(OnboardingService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly principals: PrincipalsService,
    private readonly apiKeys: ApiKeysService,
  ) {}

  async createOrganization(input: { name: string; currency?: string; adminKey?: string }): Promise<OrganizationCreated> {
    const name = requireText(input.name, 'name', { max: 200 });
    const currency = (input.currency ?? 'USD').toUpperCase();
    if (!/^[A-Z]{3}$/.test(currency)) throw AppError.badInput('currency', 'currency must be an ISO 4217 code such as USD or EUR');
    return this.dataSource.transaction(async (manager) => {
      const existing = await manager.findOneBy(OrganizationEntity, { name });
      if (existing) throw AppError.badInput('name', `An organization named "${name}" exists already`);
      const organization = await manager.save(OrganizationEntity, manager.create(OrganizationEntity, { name, currency }));
      const admin = await this.principals.insertFirst(manager, {
        organizationId: organization.id,
        name: 'admin',
        kind: 'USER',
        team: null,
        orgUnitKind: 'GOING_CONCERN',
      });
      const { secret } = await this.apiKeys.insert(manager, { organizationId: organization.id, principalId: admin.id, role: 'ADMIN', secret: input.adminKey });
      return { organizationId: organization.id, adminKey: secret };
    });
  }

  /** A new ADMIN key for the admin principal of an organization named `name` (operator use). */
  async issueAdminKey(name: string): Promise<OrganizationCreated> {
    const organization = await this.dataSource.getRepository(OrganizationEntity).findOneBy({ name });
    if (!organization) throw AppError.badInput('name', `No organization named "${name}"`);
    const admin = (await this.principals.list(organization.id))[0];
    if (!admin) throw AppError.badInput('name', `Organization "${name}" has no principal`);
    const { secret } = await this.dataSource.transaction((manager) =>
      this.apiKeys.insert(manager, { organizationId: organization.id, principalId: admin.id, role: 'ADMIN' }),
    );
    return { organizationId: organization.id, adminKey: secret };
  }

  /**
   * With BOOTSTRAP_ADMIN_KEY set and no organization yet, creates organization "default"
   * with that admin key (docker-compose, demos). Replicas starting together race safely:
   * the unique name lets only one win.
   */
  async bootstrap(adminKey: string | undefined): Promise<void> {
    if (!adminKey) return;
    if ((await this.dataSource.getRepository(OrganizationEntity).count()) > 0) return;
    try {
      const created = await this.createOrganization({ name: 'default', adminKey });
      this.logger.log(`Created organization "default" (${created.organizationId}) with the key from BOOTSTRAP_ADMIN_KEY`);
    } catch (err) {
      if ((err as { code?: string }).code === '23505' || err instanceof AppError) return;
      throw err;
    }
  }
}
