import { Injectable } from '@nestjs/common';
import { PeriodKeys, periodKeys } from '../lease-engine/budget-store';

/**
 * The clock budget periods are taken from: the API computes the current UTC day and month
 * and passes them to Redis (whose own TIME cannot be moved), so a test can replace `now`
 * and cross midnight without waiting.
 */
@Injectable()
export class BudgetClock {
  now(): number {
    return Date.now();
  }

  periods(): PeriodKeys {
    return periodKeys(this.now());
  }
}
