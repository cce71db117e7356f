import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { JobsOptions, Queue } from 'bullmq';
import { RedisService } from '../redis/redis.service';

/** A repeating job the worker must always have: one BullMQ job scheduler, jobs named by its id. */
export interface KeptSchedule {
  queue: Queue;
  id: string;
  everyMs: number;
  jobOptions: JobsOptions;
}

/** Any other Redis structure the worker relies on; `ensure` creates it if missing (idempotent). */
export interface KeptStructure {
  name: string;
  ensure: () => Promise<void>;
}

// A full check this often, whatever happens; at once on a reconnect or a new Redis run id.
const CHECK_EVERY_MS = 30_000;
// How often the Redis run ids are compared (a restart behind a proxy may not drop our connection).
const RUN_ID_EVERY_MS = 5_000;
// A job is "finished" past these states; a scheduler whose next job is one of them, or gone, is broken.
const DEAD_STATES = new Set(['completed', 'failed', 'unknown']);

/**
 * Keeps the worker's schedules and Redis structures present without a restart. They live
 * in Redis, which may lose its data while the worker runs (a restart without persistence,
 * a failover, a flush), and the jobs that would notice are among what is lost, so this is a
 * timer of the process: every CHECK_EVERY_MS, on every reconnect and when a node's run id
 * changes, each registered schedule is re-created if it is missing, has another interval,
 * or its next job is gone, and each structure is ensured. upsertJobScheduler is idempotent,
 * so several workers doing this at once still make one schedule.
 */
@Injectable()
export class ScheduleKeeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ScheduleKeeper.name);
  private readonly schedules: KeptSchedule[] = [];
  private readonly structures: KeptStructure[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private runIds: string | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private readonly onReady = () => this.trigger('Redis reconnected');

  constructor(private readonly redis: RedisService) {}

  /** Called by feature modules at init, before the first check. */
  keepSchedule(schedule: KeptSchedule): void {
    this.schedules.push(schedule);
  }

  keepStructure(structure: KeptStructure): void {
    this.structures.push(structure);
  }

  /** The first check upserts every schedule, so a changed template or interval takes effect on deploy. */
  async onApplicationBootstrap(): Promise<void> {
    await this.upsertAll();
    this.runIds = await this.readRunIds().catch(() => null);
    this.redis.client.on('ready', this.onReady);
    this.timers.push(setInterval(() => this.trigger(null), CHECK_EVERY_MS).unref());
    this.timers.push(setInterval(() => void this.noticeRestart(), RUN_ID_EVERY_MS).unref());
  }

  /** A check under way is not waited for: while Redis is down it would wait as long; its errors are logged. */
  onApplicationShutdown(): void {
    this.closed = true;
    this.timers.forEach(clearInterval);
    this.redis.client.off('ready', this.onReady);
  }

  /** Checks everything now (a check already running is followed by one more); resolves when done. */
  check(): Promise<void> {
    this.trigger(null);
    return this.running ?? Promise.resolve();
  }

  private trigger(reason: string | null): void {
    if (this.closed) return;
    if (reason) this.logger.warn(`${reason}: checking the worker's schedules and Redis structures`);
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.checkAll();
      } while (this.again);
    })().finally(() => (this.running = null));
  }

  private async checkAll(): Promise<void> {
    for (const schedule of this.schedules) {
      try {
        const broken = await this.brokenBecause(schedule);
        if (broken) {
          await this.upsert(schedule);
          this.logger.warn(`Re-created job scheduler ${schedule.queue.name}/${schedule.id}: ${broken}`);
        }
      } catch (err) {
        this.logger.warn(`Check of job scheduler ${schedule.queue.name}/${schedule.id} failed: ${(err as Error).message}`);
      }
    }
    for (const structure of this.structures) {
      await structure.ensure().catch((err: Error) => this.logger.warn(`Check of ${structure.name} failed: ${err.message}`));
    }
  }

  /**
   * Why the schedule needs re-creating, or null. A job scheduler makes its next job when the
   * worker takes the current one (its id is "repeat:<schedulerId>:<next>"); a next job that
   * is gone or finished while the scheduler still points at it means the chain broke (a
   * worker killed at that instant, data lost). Read twice, so that a job taken and finished
   * between the two reads is not mistaken for a break.
   */
  private async brokenBecause(schedule: KeptSchedule): Promise<string | null> {
    const scheduler = await schedule.queue.getJobScheduler(schedule.id);
    if (!scheduler) return 'missing';
    if (scheduler.every !== schedule.everyMs) return `interval ${scheduler.every} ms, wanted ${schedule.everyMs} ms`;
    const state = await schedule.queue.getJobState(`repeat:${schedule.id}:${scheduler.next}`);
    if (!DEAD_STATES.has(state)) return null;
    const again = await schedule.queue.getJobScheduler(schedule.id);
    return again?.next === scheduler.next ? `its next job is ${state}` : null;
  }

  private async upsertAll(): Promise<void> {
    for (const schedule of this.schedules) {
      await this.upsert(schedule).catch((err: Error) =>
        this.logger.warn(`Job scheduler ${schedule.queue.name}/${schedule.id} not created yet: ${err.message}`),
      );
    }
    for (const structure of this.structures) {
      await structure.ensure().catch((err: Error) => this.logger.warn(`${structure.name} not created yet: ${err.message}`));
    }
  }

  private async upsert(schedule: KeptSchedule): Promise<void> {
    await schedule.queue.upsertJobScheduler(schedule.id, { every: schedule.everyMs }, { name: schedule.id, opts: schedule.jobOptions });
  }

  /** A node whose run id changed restarted: it may have lost its data. */
  private async noticeRestart(): Promise<void> {
    const runIds = await this.readRunIds().catch(() => null);
    if (runIds === null) return;
    const before = this.runIds;
    this.runIds = runIds;
    if (before !== null && before !== runIds) this.trigger(`Redis restarted (run id ${before} -> ${runIds})`);
  }

  /** The run ids of every primary (one for a single Redis), sorted and joined. */
  private async readRunIds(): Promise<string> {
    const ids = await Promise.all(this.redis.primaries().map(async (node) => /run_id:([0-9a-f]+)/.exec(await node.info('server'))?.[1] ?? '?'));
    return ids.sort().join(',');
  }
}
