import { Module } from '@nestjs/common';
import { RedisService } from '../common/redis/redis.service';
import { BudgetStore } from '../lease-engine/budget-store';
import { BudgetClock } from './budget-clock';
import { BudgetEpochs } from './budget-epochs';
import { BudgetSpendService } from './budget-spend.service';
import { BudgetStateService } from './budget-state.service';

/**
 * The budget engine's common part, which the ledger's compute writes also need: the Redis
 * store, the clock of budget periods, the epochs and the rebuild. The budgets module (API)
 * and the budget worker build on it and add the metrics: this part needs no registry, so
 * processes without one (the operator CLI, the demo seeder) can load it.
 */
@Module({
  providers: [
    { provide: BudgetStore, inject: [RedisService], useFactory: (redis: RedisService) => new BudgetStore(redis.client, redis.key('budget')) },
    BudgetClock,
    BudgetEpochs,
    BudgetSpendService,
    BudgetStateService,
  ],
  exports: [BudgetStore, BudgetClock, BudgetEpochs, BudgetSpendService, BudgetStateService],
})
export class BudgetEngineModule {}
