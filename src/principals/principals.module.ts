import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { AuditActorResolver } from './audit-actor.resolver';
import { PrincipalEntity } from './principal.entity';
import { PrincipalsResolver } from './principals.resolver';
import { PrincipalsService } from './principals.service';

@Module({
  imports: [TypeOrmModule.forFeature([PrincipalEntity]), AuditModule, OrganizationsModule],
  providers: [PrincipalsService, PrincipalsResolver, AuditActorResolver],
  exports: [PrincipalsService],
})
export class PrincipalsModule {}
