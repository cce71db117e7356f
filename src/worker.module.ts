import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { BudgetWorkerModule } from './budgets/budget-worker.module';
import { LedgerSealsWorkerModule } from './ledger-seals/ledger-seals-worker.module';
import { DatabaseModule } from './common/database/database.module';
import { HealthModule } from './common/health/health.module';
import { MetricsModule } from './common/metrics/metrics.module';
import { LoggingModule } from './common/logging/logging.module';
import { RedisModule } from './common/redis/redis.module';
import { RedisService } from './common/redis/redis.service';
import { ScheduleKeeperModule } from './common/queues/schedule-keeper.module';
import { ConfigModule } from './config/config.module';
import { LeaseWorkerModule } from './leases/lease-worker.module';
import { ReportsWorkerModule } from './reports/reports-worker.module';
import { LedgerWorkerModule } from './ledger/ledger-worker.module';

/**
 * The worker process: every BullMQ processor of the service is listed here, and nothing
 * else runs in it, beside health and metrics routes for the orchestrator. Retry and clean-up defaults are set once, for every queue.
 * Each worker module registers its schedules with the ScheduleKeeper, which re-creates them
 * whenever Redis has lost them.
 */
@Module({
  imports: [
    ConfigModule,
    LoggingModule,
    DatabaseModule,
    RedisModule,
    HealthModule,
    MetricsModule.onAppPort(),
    BullModule.forRootAsync({
      inject: [RedisService],
      useFactory: (redis: RedisService) => ({
        connection: redis.bullConnection(),
        prefix: redis.bullPrefix(),
        defaultJobOptions: {
          attempts: 5,
          backoff: { type: 'exponential', delay: 1000 },
          removeOnComplete: { age: 3600, count: 1000 },
          removeOnFail: { age: 7 * 86_400 },
        },
      }),
    }),
    ScheduleKeeperModule,
    LeaseWorkerModule,
    ReportsWorkerModule,
    LedgerWorkerModule,
    BudgetWorkerModule,
    LedgerSealsWorkerModule,
  ],
})
export class WorkerModule {}
