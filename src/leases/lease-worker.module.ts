import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { Inject, Module, OnApplicationBootstrap } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Queue } from 'bullmq';
import { APP_CONFIG, AppConfig } from '../config/env';
import { PoolsModule } from '../pools/pools.module';
import { DenialEntity } from './denial.entity';
import { LeaseDrawsModule } from './lease-draws.module';
import { LeaseMetricsService } from './lease-metrics.service';
import { LeaseRecordsService } from './lease-records.service';
import { LeaseStoreModule } from './lease-store.module';
import { LeaseSweepService } from './lease-sweep.service';
import { LeaseEntity } from './lease.entity';
import { PoolStateService } from './pool-state.service';
import { LEASE_MAINTENANCE_QUEUE, SWEEP_POOLS_JOB } from './sweep-pools.job';
import { SweepPoolsProcessor } from './sweep-pools.processor';

/** The worker side of leases: the periodic sweep and its processor. */
@Module({
  imports: [TypeOrmModule.forFeature([LeaseEntity, DenialEntity]), BullModule.registerQueue({ name: LEASE_MAINTENANCE_QUEUE }), LeaseStoreModule, PoolsModule, LeaseDrawsModule],
  providers: [LeaseSweepService, SweepPoolsProcessor, LeaseRecordsService, PoolStateService, LeaseMetricsService],
})
export class LeaseWorkerModule implements OnApplicationBootstrap {
  constructor(
    @InjectQueue(LEASE_MAINTENANCE_QUEUE) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Idempotent: every worker upserts the same scheduler, so there is one schedule however many run. */
  async onApplicationBootstrap(): Promise<void> {
    await this.queue.upsertJobScheduler(SWEEP_POOLS_JOB, { every: this.config.sweepIntervalMs }, { name: SWEEP_POOLS_JOB, opts: { attempts: 1, removeOnComplete: true, removeOnFail: 100 } });
  }
}
