import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppsModule } from '../apps/apps.module';
import { PoolsModule } from '../pools/pools.module';
import { PrincipalsModule } from '../principals/principals.module';
import { WorkUnitsModule } from '../work-units/work-units.module';
import { CheckoutHooks } from './checkout-hooks';
import { DenialEntity } from './denial.entity';
import { DenialRecordsService } from './denial-records.service';
import { DenialsResolver } from './denials.resolver';
import { FairQueueService } from './fair-queue.service';
import { LeaseIdleIntervalEntity } from './lease-idle-interval.entity';
import { LeaseMetricsService } from './lease-metrics.service';
import { LeaseRecordsService } from './lease-records.service';
import { LeaseStoreModule } from '../lease-engine/lease-store.module';
import { LeaseEntity } from './lease.entity';
import { LeasesResolver } from './leases.resolver';
import { LeasesService } from './leases.service';
import { PoolMirrorModule } from './pool-mirror.module';
import { PoolStateService } from './pool-state.service';
import { QuotesService } from './quotes.service';

@Module({
  imports: [
    TypeOrmModule.forFeature([LeaseEntity, DenialEntity, LeaseIdleIntervalEntity]),
    LeaseStoreModule,
    PoolsModule,
    AppsModule,
    PoolMirrorModule,
    PrincipalsModule,
    WorkUnitsModule,
  ],
  providers: [
    LeasesService,
    CheckoutHooks,
    FairQueueService,
    QuotesService,
    LeaseRecordsService,
    DenialRecordsService,
    PoolStateService,
    LeaseMetricsService,
    LeasesResolver,
    DenialsResolver,
  ],
  exports: [LeasesService, QuotesService, LeaseRecordsService],
})
export class LeasesModule {}
