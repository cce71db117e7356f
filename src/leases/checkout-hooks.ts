import { Injectable } from '@nestjs/common';

/**
 * Steps inside a check-out where fault tests hold it, to kill a process or cut a store right
 * there: test/support/checkout-pause-api.js (a test-only entrypoint) replaces them on its
 * instance. In the service they do nothing.
 */
@Injectable()
export class CheckoutHooks {
  /** Between the Redis grant of lease `leaseId` and its PostgreSQL record. */
  async granted(_leaseId: string): Promise<void> {}
}
