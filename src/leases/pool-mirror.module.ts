import { Module } from '@nestjs/common';
import { AppsModule } from '../apps/apps.module';
import { LeaseStoreModule } from '../lease-engine/lease-store.module';
import { PoolsModule } from '../pools/pools.module';
import { PoolMirror } from './pool-mirror';

/**
 * The pool mirror, the one writer of pool configuration into Redis. A process that changes
 * the catalog imports it, or its changes reach Redis only at the worker's next resync or a
 * rebuild.
 */
@Module({
  imports: [PoolsModule, AppsModule, LeaseStoreModule],
  providers: [PoolMirror],
  exports: [PoolMirror],
})
export class PoolMirrorModule {}
