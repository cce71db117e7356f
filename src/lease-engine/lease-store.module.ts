import { Module } from '@nestjs/common';
import { RedisService } from '../common/redis/redis.service';
import { LeaseStore } from './lease-store';

/** The lease store on the process's command connection: the Redis side of leases, which imports only common/ and config/. */
@Module({
  providers: [{ provide: LeaseStore, inject: [RedisService], useFactory: (redis: RedisService) => new LeaseStore(redis.client, redis.key('lease')) }],
  exports: [LeaseStore],
})
export class LeaseStoreModule {}
