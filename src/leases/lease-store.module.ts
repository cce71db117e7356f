import { Module } from '@nestjs/common';
import { RedisService } from '../common/redis/redis.service';
import { LeaseStore } from './lease-store';

/** The lease store on the process's command connection; imported by the catalog and the lease features. */
@Module({
  providers: [{ provide: LeaseStore, inject: [RedisService], useFactory: (redis: RedisService) => new LeaseStore(redis.client, redis.key('lease')) }],
  exports: [LeaseStore],
})
export class LeaseStoreModule {}
