import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { AuthGuard } from './auth.guard';
import { RateLimitService } from './rate-limit.service';
import { RequestAuthService } from './request-auth.service';
import { SubscriptionSocketsService } from './subscription-sockets.service';

@Module({
  imports: [ApiKeysModule],
  providers: [RateLimitService, RequestAuthService, SubscriptionSocketsService, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [RequestAuthService, SubscriptionSocketsService],
})
export class AuthModule {}
