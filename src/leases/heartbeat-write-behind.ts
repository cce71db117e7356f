import type { Logger } from '@nestjs/common';
import { isDependencyDown } from '../common/errors/dependency-errors';

/** A heartbeat as Redis answered it: the lease's new expiry, and when it happened (Redis clock). */
export interface HeartbeatWrite {
  leaseId: string;
  expiresAt: Date;
  at: Date;
  idle: boolean;
}

/** Consecutive heartbeats of one lease with the same idle flag: all PostgreSQL needs of them. */
export interface HeartbeatRun {
  leaseId: string;
  expiresAt: Date;
  idle: boolean;
  firstAt: Date;
  lastAt: Date;
}

// A lease that flips between idle and active faster than the writes keep up (PostgreSQL down)
// keeps this many runs; past it the oldest is dropped, its expiry kept by the next.
export const MAX_RUNS_PER_LEASE = 32;

const later = (a: Date, b: Date): Date => (a.getTime() >= b.getTime() ? a : b);
const earlier = (a: Date, b: Date): Date => (a.getTime() <= b.getTime() ? a : b);

/** Appends a run to a lease's waiting runs (oldest first), merging it into the last one when the idle flag is the same. */
export function appendRun(runs: HeartbeatRun[], run: HeartbeatRun): HeartbeatRun[] {
  const last = runs[runs.length - 1];
  if (last && last.idle === run.idle) {
    runs[runs.length - 1] = {
      ...last,
      firstAt: earlier(last.firstAt, run.firstAt),
      lastAt: later(last.lastAt, run.lastAt),
      expiresAt: later(last.expiresAt, run.expiresAt),
    };
  } else {
    runs.push({ ...run });
  }
  if (runs.length > MAX_RUNS_PER_LEASE) {
    const [dropped] = runs.splice(0, 1);
    runs[0] = { ...runs[0], expiresAt: later(runs[0].expiresAt, dropped.expiresAt) };
  }
  return runs;
}

/** The writes that bring PostgreSQL up to date: round k holds every lease's k-th run, so each lease's runs land in order. */
export function writeRounds(pending: ReadonlyMap<string, readonly HeartbeatRun[]>): HeartbeatRun[][] {
  const rounds: HeartbeatRun[][] = [];
  for (const runs of pending.values()) {
    runs.forEach((run, k) => (rounds[k] ??= []).push(run));
  }
  return rounds;
}

export interface WriteBehindOptions {
  /** Writes one round; throws when PostgreSQL could not take it. */
  write: (runs: HeartbeatRun[]) => Promise<void>;
  everyMs: number;
  logger: Logger;
}

/**
 * PostgreSQL's copy of heartbeats, written behind: heartbeats answer from Redis, and what they
 * change in PostgreSQL (expires_at, last_heartbeat_at, idle intervals) is written every
 * `everyMs` for every lease at once, at once for a heartbeat whose lease was about to run out
 * there, before a lease of this process ends, and at shutdown. While PostgreSQL is
 * unreachable the runs wait (one entry per lease, so memory follows the live leases) and
 * are written when it answers again.
 */
export class HeartbeatWriteBehind {
  private pending = new Map<string, HeartbeatRun[]>();
  /** What the write under way took: a lease in it is written before it may end. */
  private writing: ReadonlyMap<string, HeartbeatRun[]> = new Map();
  private flushing: Promise<void> | null = null;
  private soon: NodeJS.Immediate | null = null;
  private readonly timer: NodeJS.Timeout;
  private failingSince: number | null = null;

  constructor(private readonly options: WriteBehindOptions) {
    this.timer = setInterval(() => void this.flush(), options.everyMs);
    this.timer.unref();
  }

  /** Queues a heartbeat's write; `urgent` writes it on the next turn of the event loop. */
  add(beat: HeartbeatWrite, urgent: boolean): void {
    const run = { leaseId: beat.leaseId, expiresAt: beat.expiresAt, idle: beat.idle, firstAt: beat.at, lastAt: beat.at };
    this.pending.set(beat.leaseId, appendRun(this.pending.get(beat.leaseId) ?? [], run));
    if (urgent && !this.soon) {
      this.soon = setImmediate(() => {
        this.soon = null;
        void this.flush();
      });
    }
  }

  /** Writes a lease's waiting heartbeats now (before it ends), after the write under way if that holds some of them. */
  async flushLease(leaseId: string): Promise<void> {
    while (this.flushing && this.writing.has(leaseId)) await this.flushing;
    const runs = this.pending.get(leaseId);
    if (!runs) return;
    this.pending.delete(leaseId);
    await this.write(new Map([[leaseId, runs]]));
  }

  /** Writes everything waiting; one write at a time (a tick that finds one running leaves it to it). */
  flush(): Promise<void> {
    this.flushing ??= this.writePending().finally(() => (this.flushing = null));
    return this.flushing;
  }

  /** At shutdown: stops the timer and writes what waits, once. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.soon) clearImmediate(this.soon);
    if (this.flushing) await this.flushing;
    await this.flush();
    if (this.pending.size > 0) {
      this.options.logger.warn(`Heartbeats of ${this.pending.size} leases not written to PostgreSQL at shutdown; their next heartbeat writes them`);
    }
  }

  private async writePending(): Promise<void> {
    if (this.pending.size === 0) return;
    const taken = this.pending;
    this.pending = new Map();
    this.writing = taken;
    try {
      await this.write(taken);
    } finally {
      this.writing = new Map();
    }
  }

  /** Never throws: what PostgreSQL could not take waits for the next write, before anything newer. */
  private async write(taken: Map<string, HeartbeatRun[]>): Promise<void> {
    const rounds = writeRounds(taken);
    for (let k = 0; k < rounds.length; k++) {
      try {
        await this.options.write(rounds[k]);
      } catch (err) {
        this.failed(err as Error, taken, k);
        return;
      }
    }
    if (this.failingSince !== null) {
      this.options.logger.log(`Heartbeats written to PostgreSQL again after ${((Date.now() - this.failingSince) / 1000).toFixed(1)} s`);
      this.failingSince = null;
    }
  }

  private failed(err: Error, taken: Map<string, HeartbeatRun[]>, round: number): void {
    const code = (err as { code?: string }).code;
    // A deadlock or serialization failure passes; anything else but an outage would fail again.
    if (!isDependencyDown(err) && code !== '40P01' && code !== '40001') {
      this.options.logger.error({ err }, `Heartbeats of ${taken.size} leases could not be written to PostgreSQL; their next heartbeat writes them`);
      return;
    }
    if (this.failingSince === null) {
      this.failingSince = Date.now();
      this.options.logger.warn(`Heartbeats cannot be written to PostgreSQL (${err.message}); they wait in memory and are written when it answers`);
    }
    for (const [leaseId, runs] of taken) {
      let merged = runs.slice(round);
      if (merged.length === 0) continue;
      for (const newer of this.pending.get(leaseId) ?? []) merged = appendRun(merged, newer);
      this.pending.set(leaseId, merged);
    }
  }
}
