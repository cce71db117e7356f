import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { PoolsModule } from '../pools/pools.module';
import { AppsResolver } from './apps.resolver';
import { PoolAppsResolver } from './pool-apps.resolver';
import { AppsService } from './apps.service';
import { CatalogAppEntity } from './catalog-app.entity';

@Module({
  imports: [TypeOrmModule.forFeature([CatalogAppEntity]), PoolsModule, AuditModule],
  providers: [AppsService, AppsResolver, PoolAppsResolver],
  exports: [AppsService],
})
export class AppsModule {}
