import { Global, Module } from '@nestjs/common';
import { ScheduleKeeper } from './schedule-keeper.service';

/** The worker's keeper of schedules: every worker module registers its own with it. */
@Global()
@Module({
  providers: [ScheduleKeeper],
  exports: [ScheduleKeeper],
})
export class ScheduleKeeperModule {}
