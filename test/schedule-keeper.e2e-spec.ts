import { getQueueToken } from '@nestjs/bullmq';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Queue } from 'bullmq';
import { ScheduleKeeper } from '../src/common/queues/schedule-keeper.service';
import { RedisService } from '../src/common/redis/redis.service';
import { APP_CONFIG, AppConfig } from '../src/config/env';
import { LEASE_MAINTENANCE_QUEUE, SWEEP_POOLS_JOB } from '../src/leases/sweep-pools.job';
import { WorkerModule } from '../src/worker.module';

/** The worker re-creates a schedule Redis lost, without a restart. */
describe('schedule keeper', () => {
  let worker: INestApplicationContext;
  let queue: Queue;
  let keeper: ScheduleKeeper;
  let sweepMs: number;

  beforeAll(async () => {
    worker = await NestFactory.createApplicationContext(WorkerModule, { logger: false });
    queue = worker.get<Queue>(getQueueToken(LEASE_MAINTENANCE_QUEUE));
    keeper = worker.get(ScheduleKeeper);
    sweepMs = worker.get<AppConfig>(APP_CONFIG).sweepIntervalMs;
  });

  afterAll(async () => {
    await worker.close();
  });

  /** The state of the job the sweep's scheduler will run next. */
  async function nextJobState(): Promise<string> {
    const scheduler = await queue.getJobScheduler(SWEEP_POOLS_JOB);
    return scheduler ? queue.getJobState(`repeat:${SWEEP_POOLS_JOB}:${scheduler.next}`) : 'no scheduler';
  }

  it('re-creates a job scheduler that was removed', async () => {
    await queue.removeJobScheduler(SWEEP_POOLS_JOB);
    expect(await queue.getJobScheduler(SWEEP_POOLS_JOB)).toBeUndefined();
    await keeper.check();
    expect((await queue.getJobScheduler(SWEEP_POOLS_JOB))?.every).toBe(sweepMs);
    expect(['delayed', 'waiting', 'active', 'prioritized']).toContain(await nextJobState());
  });

  it('re-creates a job scheduler whose next job is gone', async () => {
    // The scheduler stays; the job it points at is lost, as with lost data or a worker killed
    // between taking a job and scheduling the next. (BullMQ refuses to remove a scheduler's
    // job, so its keys go; a job being run is left, and the next one tried.)
    const redis = worker.get(RedisService).client;
    let removed = 0;
    for (let attempt = 0; attempt < 100 && removed === 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 50));
      const jobId = `repeat:${SWEEP_POOLS_JOB}:${(await queue.getJobScheduler(SWEEP_POOLS_JOB))?.next}`;
      removed = (await redis.eval(LOSE_QUEUED_JOB, 3, queue.keys.delayed, queue.keys.wait, queue.toKey(jobId), jobId)) as number;
    }
    expect(removed).toBe(1);
    expect(await nextJobState()).toBe('unknown');
    await keeper.check();
    expect(['delayed', 'waiting', 'active', 'prioritized']).toContain(await nextJobState());
  });
});

/** Test-only: drops the job ARGV[1] if it waits (delayed in KEYS[1] or waiting in KEYS[2]): its entry and its hash KEYS[3]. */
const LOSE_QUEUED_JOB = `
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 and redis.call('LREM', KEYS[2], 0, ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[3])
return 1`;
