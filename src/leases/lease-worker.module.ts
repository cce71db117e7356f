import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { Inject, Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Queue } from 'bullmq';
import { ScheduleKeeper } from '../common/queues/schedule-keeper.service';
import { APP_CONFIG, AppConfig } from '../config/env';
import { PoolsModule } from '../pools/pools.module';
import { DenialEntity } from './denial.entity';
import { LeaseDrawsModule } from './lease-draws.module';
import { LeaseMetricsService } from './lease-metrics.service';
import { LeaseReconciliationService } from './lease-reconciliation.service';
import { LeaseRecordsService } from './lease-records.service';
import { LeaseStoreModule } from '../lease-engine/lease-store.module';
import { LeaseSweepService } from './lease-sweep.service';
import { LeaseEntity } from './lease.entity';
import { PoolMirrorModule } from './pool-mirror.module';
import { PoolStateService } from './pool-state.service';
import { LEASE_MAINTENANCE_QUEUE, SWEEP_POOLS_JOB } from './sweep-pools.job';
import { SweepPoolsProcessor } from './sweep-pools.processor';

/** The worker side of leases: the periodic sweep, its processor, and the reconciliation it runs. */
@Module({
  imports: [
    TypeOrmModule.forFeature([LeaseEntity, DenialEntity]),
    BullModule.registerQueue({ name: LEASE_MAINTENANCE_QUEUE }),
    LeaseStoreModule,
    PoolsModule,
    PoolMirrorModule,
    LeaseDrawsModule,
  ],
  providers: [LeaseSweepService, SweepPoolsProcessor, LeaseRecordsService, PoolStateService, LeaseMetricsService, LeaseReconciliationService],
})
export class LeaseWorkerModule implements OnModuleInit {
  constructor(
    @InjectQueue(LEASE_MAINTENANCE_QUEUE) private readonly queue: Queue,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keeper: ScheduleKeeper,
    private readonly sweep: LeaseSweepService,
  ) {}

  /** The sweep's schedule, and the consumer group of every pool's events stream, kept by the keeper. */
  onModuleInit(): void {
    this.keeper.keepSchedule({
      queue: this.queue,
      id: SWEEP_POOLS_JOB,
      everyMs: this.config.sweepIntervalMs,
      jobOptions: { attempts: 1, removeOnComplete: true, removeOnFail: 100 },
    });
    this.keeper.keepStructure({ name: 'the lease events consumer groups', ensure: () => this.sweep.ensureEventGroups() });
  }
}
