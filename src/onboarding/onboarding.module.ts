import { Module } from '@nestjs/common';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { PrincipalsModule } from '../principals/principals.module';
import { OnboardingService } from './onboarding.service';

@Module({
  imports: [PrincipalsModule, ApiKeysModule],
  providers: [OnboardingService],
  exports: [OnboardingService],
})
export class OnboardingModule {}
