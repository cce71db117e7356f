import { Module } from '@nestjs/common';
import { DatabaseModule } from './common/database/database.module';
import { ConfigModule } from './config/config.module';
import { OnboardingModule } from './onboarding/onboarding.module';
import { UsageRollupsModule } from './reports/usage-rollups.module';

/** What the operator CLI needs: the database, tenant onboarding and the usage rollups, nothing that listens. */
@Module({ imports: [ConfigModule, DatabaseModule, OnboardingModule, UsageRollupsModule] })
export class CliModule {}
