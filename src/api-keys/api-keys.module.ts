import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditModule } from '../audit/audit.module';
import { ApiKeyLookup } from '../auth/api-key-lookup';
import { PrincipalsModule } from '../principals/principals.module';
import { ApiKeyEntity } from './api-key.entity';
import { ApiKeysResolver } from './api-keys.resolver';
import { ApiKeysService } from './api-keys.service';

@Module({
  imports: [TypeOrmModule.forFeature([ApiKeyEntity]), PrincipalsModule, AuditModule],
  // ApiKeyLookup is what AuthModule.forKeys(ApiKeysModule) authenticates with.
  providers: [ApiKeysService, ApiKeysResolver, { provide: ApiKeyLookup, useExisting: ApiKeysService }],
  exports: [ApiKeysService, ApiKeyLookup],
})
export class ApiKeysModule {}
