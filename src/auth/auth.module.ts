import { DynamicModule, Module, Type } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthGuard } from './auth.guard';
import { RateLimitService } from './rate-limit.service';
import { RequestAuthService } from './request-auth.service';
import { SubscriptionSocketsService } from './subscription-sockets.service';

/**
 * Authentication (request and WebSocket) and the guard every resolver runs behind. Every
 * feature imports auth's decorators, so auth imports no feature: forKeys names the module
 * that provides ApiKeyLookup, and every importer passes the same one (Nest then builds one
 * instance).
 */
@Module({
  providers: [RateLimitService, RequestAuthService, SubscriptionSocketsService, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [RequestAuthService, SubscriptionSocketsService],
})
export class AuthModule {
  static forKeys(keysModule: Type<unknown>): DynamicModule {
    return { module: AuthModule, imports: [keysModule] };
  }
}
