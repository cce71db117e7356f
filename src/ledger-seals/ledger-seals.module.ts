import { Module } from '@nestjs/common';
import { LedgerSealsResolver } from './ledger-seals.resolver';
import { LedgerSealsService } from './ledger-seals.service';

/** The sealed ledger: seals, their verification and the GraphQL side (the worker's jobs: ledger-seals-worker.module.ts). */
@Module({
  providers: [LedgerSealsService, LedgerSealsResolver],
  exports: [LedgerSealsService],
})
export class LedgerSealsModule {}
