import { Module } from '@nestjs/common';
import { RedisService } from '../common/redis/redis.service';
import { BudgetStore } from '../lease-engine/budget-store';
import { BudgetClock } from './budget-clock';
import { BudgetEpochs } from './budget-epochs';
import { BudgetMetricsService } from './budget-metrics.service';
import { BudgetSpendService } from './budget-spend.service';
import { BudgetStateService } from './budget-state.service';

/**
 * The budget engine's common part, which the ledger's compute writes also need: the Redis
 * store, the clock of budget periods, the epochs, the rebuild and the metrics. The budgets module (API)
 * and the budget worker build on it.
 */
@Module({
  providers: [
    { provide: BudgetStore, inject: [RedisService], useFactory: (redis: RedisService) => new BudgetStore(redis.client, redis.key('budget')) },
    BudgetClock,
    BudgetEpochs,
    BudgetSpendService,
    BudgetStateService,
    BudgetMetricsService,
  ],
  exports: [BudgetStore, BudgetClock, BudgetEpochs, BudgetSpendService, BudgetStateService, BudgetMetricsService],
})
export class BudgetSpendModule {}
