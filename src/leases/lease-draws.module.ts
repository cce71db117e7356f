import { Module } from '@nestjs/common';
import { LeaseDrawsService } from './lease-draws.service';

/** Records ended draws; used by the worker's sweep and by history imports. */
@Module({
  providers: [LeaseDrawsService],
  exports: [LeaseDrawsService],
})
export class LeaseDrawsModule {}
