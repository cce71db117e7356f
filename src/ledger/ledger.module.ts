import { Module } from '@nestjs/common';
import { ComputeLedgerWriter } from './compute-ledger-writer';
import { LedgerWriter } from './ledger-writer';

/**
 * The append-only usage ledger. Its two writers are the only code that inserts ledger rows:
 * LedgerWriter for license rows (called by the lease engine when a draw ends),
 * ComputeLedgerWriter for compute events and price corrections.
 */
@Module({
  providers: [LedgerWriter, ComputeLedgerWriter],
  exports: [LedgerWriter, ComputeLedgerWriter],
})
export class LedgerModule {}
