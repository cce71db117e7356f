import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { LeaseStoreModule } from '../lease-engine/lease-store.module';
import { GroupLimitEntity } from './group-limit.entity';
import { PoolCapChangeEntity } from './pool-cap-change.entity';
import { PoolEventsService } from './pool-events.service';
import { PoolEntity } from './pool.entity';
import { GroupLimitsResolver, PoolsResolver } from './pools.resolver';
import { PoolsService } from './pools.service';

@Module({
  imports: [TypeOrmModule.forFeature([PoolEntity, PoolCapChangeEntity, GroupLimitEntity]), AuditModule, LeaseStoreModule],
  providers: [PoolsService, PoolEventsService, PoolsResolver, GroupLimitsResolver],
  exports: [PoolsService, PoolEventsService],
})
export class PoolsModule {}
