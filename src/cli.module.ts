import { Module } from '@nestjs/common';
import { DatabaseModule } from './common/database/database.module';
import { ConfigModule } from './config/config.module';
import { OnboardingModule } from './onboarding/onboarding.module';

/** What the operator CLI needs: the database and tenant onboarding, nothing that listens. */
@Module({ imports: [ConfigModule, DatabaseModule, OnboardingModule] })
export class CliModule {}
