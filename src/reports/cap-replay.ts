/**
 * Replays recorded demand against a proposed cap, first come first served. Pure: the rules
 * below are the README's "replay rules", and the spec checks them on hand-made demand.
 *
 * - A request asks for `credits` at `at` and, once granted, holds them for `durationMs`.
 * - Requests queue in arrival order; only the head of the queue may be granted (no request
 *   overtakes an earlier one, as in the live fair queue), as soon as it fits under the cap.
 * - A request still waiting `maxWaitMs` after it arrived is refused, and so is one that asks
 *   for more than the cap at once; a refused request holds nothing.
 * - Draws held before the window (`initial`) keep their credits until their recorded end,
 *   even above the proposed cap (lowering a cap ends no lease).
 */
export interface ReplayRequest {
  at: number;
  credits: number;
  durationMs: number;
}

export interface ReplayResult {
  requests: number;
  denied: number;
  delayed: number;
  deniedCreditSeconds: number;
  longestWaitMs: number;
}

/** A binary min-heap of (time, credits) releases. */
class Releases {
  private readonly times: number[] = [];
  private readonly credits: number[] = [];

  get size(): number {
    return this.times.length;
  }

  peek(): number {
    return this.times[0];
  }

  push(time: number, credits: number): void {
    this.times.push(time);
    this.credits.push(credits);
    let i = this.times.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.times[parent] <= this.times[i]) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): number {
    const credits = this.credits[0];
    const lastTime = this.times.pop()!;
    const lastCredits = this.credits.pop()!;
    if (this.times.length > 0) {
      this.times[0] = lastTime;
      this.credits[0] = lastCredits;
      this.siftDown();
    }
    return credits;
  }

  private siftDown(): void {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.times.length && this.times[l] < this.times[m]) m = l;
      if (r < this.times.length && this.times[r] < this.times[m]) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    [this.times[a], this.times[b]] = [this.times[b], this.times[a]];
    [this.credits[a], this.credits[b]] = [this.credits[b], this.credits[a]];
  }
}

class Replay {
  inUse = 0;
  readonly held = new Releases();
  private queue: ReplayRequest[] = [];
  private head = 0;
  readonly result: ReplayResult = { requests: 0, denied: 0, delayed: 0, deniedCreditSeconds: 0, longestWaitMs: 0 };

  constructor(
    private readonly cap: number,
    private readonly maxWaitMs: number,
  ) {}

  get waiting(): ReplayRequest | undefined {
    return this.queue[this.head];
  }

  enqueue(request: ReplayRequest): void {
    // Drop served requests now and then, so a replay of millions holds only those waiting.
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.queue.push(request);
  }

  /** Frees every draw that ended at or before `t`. */
  release(t: number): void {
    while (this.held.size > 0 && this.held.peek() <= t) this.inUse -= this.held.pop();
  }

  /** Grants from the head of the queue at `t` while requests fit; refuses those whose wait ran out. */
  serve(t: number): void {
    for (let r = this.waiting; r; r = this.waiting) {
      if (r.credits > this.cap || t > r.at + this.maxWaitMs) this.refuse();
      else if (this.inUse + r.credits <= this.cap) this.grant(r, t);
      else return;
    }
  }

  private grant(r: ReplayRequest, t: number): void {
    this.head += 1;
    this.inUse += r.credits;
    this.held.push(t + r.durationMs, r.credits);
    if (t > r.at) {
      this.result.delayed += 1;
      this.result.longestWaitMs = Math.max(this.result.longestWaitMs, t - r.at);
    }
  }

  private refuse(): void {
    const r = this.queue[this.head];
    this.head += 1;
    this.result.denied += 1;
    this.result.deniedCreditSeconds += (r.credits * r.durationMs) / 1000;
  }

  /** The next instant something can change: a release, or the head's wait running out. */
  nextEvent(): number {
    const r = this.waiting;
    const deadline = r ? r.at + this.maxWaitMs + (r.credits > this.cap ? 0 : 1) : Infinity;
    return Math.min(this.held.size > 0 ? this.held.peek() : Infinity, deadline);
  }
}

/** A replay fed one request at a time (in arrival order), so demand can be streamed from the database. */
export class CapReplay {
  private readonly replay: Replay;

  constructor(input: { cap: number; maxWaitMs: number; initial: { end: number; credits: number }[] }) {
    this.replay = new Replay(input.cap, input.maxWaitMs);
    for (const d of input.initial) {
      this.replay.inUse += d.credits;
      this.replay.held.push(d.end, d.credits);
    }
  }

  offer(request: ReplayRequest): void {
    const replay = this.replay;
    replay.result.requests += 1;
    // Let time run to this arrival: releases free credits for the queue, waits run out.
    for (let t = replay.nextEvent(); t <= request.at && replay.waiting; t = replay.nextEvent()) {
      replay.release(t);
      replay.serve(t);
    }
    replay.release(request.at);
    replay.enqueue(request);
    replay.serve(request.at);
  }

  finish(): ReplayResult {
    const replay = this.replay;
    while (replay.waiting) {
      const t = replay.nextEvent();
      replay.release(t);
      replay.serve(t);
    }
    return replay.result;
  }
}

/** Requests must be in arrival order. */
export function replayCap(input: {
  cap: number;
  maxWaitMs: number;
  initial: { end: number; credits: number }[];
  requests: Iterable<ReplayRequest>;
}): ReplayResult {
  const replay = new CapReplay(input);
  for (const request of input.requests) replay.offer(request);
  return replay.finish();
}
