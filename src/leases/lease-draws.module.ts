import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { LeaseDrawsService } from './lease-draws.service';

/** Records ended draws and charges them to the ledger; used by the worker's sweep and by history imports. */
@Module({
  imports: [LedgerModule],
  providers: [LeaseDrawsService],
  exports: [LeaseDrawsService],
})
export class LeaseDrawsModule {}
