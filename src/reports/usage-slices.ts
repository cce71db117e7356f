import type { DenialReason } from '../leases/denial.entity';
import { heldWhileIdleMs, LiveSpan } from '../leases/draw-idle';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** One draw as the pool held it: `credits` from `start` to `end` (ms, half-open). */
export interface DrawSpan {
  id: string;
  appId: string;
  credits: number;
  start: number;
  end: number;
  /** The draw's leases, when any of them reported its user idle; else null. */
  idle: LiveSpan[] | null;
}

/** A denial row: `count` refusals of one principal, app and reason, the first at `at`. */
export interface DenialPoint {
  appId: string;
  at: number;
  requested: number;
  reason: DenialReason;
  count: number;
  /** Followed by a grant of the same app to the same principal within the configured interval (all its refusals alike). */
  falseDenial: boolean;
}

/** Leases granted in one hour for one app (from `leases.acquired_at`). */
export interface LeaseCount {
  hour: number;
  appId: string;
  leases: number;
  principals: number;
}

export interface AppSlice {
  peak: number;
  creditSeconds: number;
  idleCreditSeconds: number;
  leases: number;
  /** Distinct principals within this slice only: not additive across slices. */
  distinctPrincipals: number;
  denials: Record<DenialReason, number>;
  falseDenials: number;
}

/**
 * What the pool did in [start, end): the seconds it spent at each level of use above 0
 * (level 0 is whatever time is left), the level each request needed (a draw opened: the
 * level just after it; a true denial for lack of credits: the level plus what it asked),
 * and per app figures. Hourly rollups store exactly this, so a report reads the same
 * numbers from rollups as from raw rows.
 */
export interface UsageSlice {
  start: number;
  end: number;
  /** Most credits held at once (for any length of time). */
  peak: number;
  /** Credits times seconds held: the sum over levelSeconds, kept so a series can skip the levels. */
  creditSeconds: number;
  levelSeconds: Map<number, number>;
  requestLevels: Map<number, number>;
  apps: Map<string, AppSlice>;
}

/** Denials that a higher cap would have avoided: a team ceiling is not the pool's cap. */
export function limitedByCap(reason: DenialReason): boolean {
  return reason === 'POOL_EXHAUSTED' || reason === 'QUEUE_TIMEOUT';
}

export function emptyApp(): AppSlice {
  return {
    peak: 0,
    creditSeconds: 0,
    idleCreditSeconds: 0,
    leases: 0,
    distinctPrincipals: 0,
    denials: { POOL_EXHAUSTED: 0, GROUP_LIMIT_REACHED: 0, QUEUE_TIMEOUT: 0 },
    falseDenials: 0,
  };
}

export function emptySlice(start: number, end: number): UsageSlice {
  return { start, end, peak: 0, creditSeconds: 0, levelSeconds: new Map(), requestLevels: new Map(), apps: new Map() };
}

export function appOf(slice: UsageSlice, appId: string): AppSlice {
  let app = slice.apps.get(appId);
  if (!app) {
    app = emptyApp();
    slice.apps.set(appId, app);
  }
  return app;
}

function bump(map: Map<number, number>, key: number, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

export function floorTo(t: number, unit: number): number {
  return Math.floor(t / unit) * unit;
}

export function ceilTo(t: number, unit: number): number {
  return Math.ceil(t / unit) * unit;
}

/** [from, to) cut at every hour boundary, as empty slices. */
export function hourSlices(from: number, to: number): UsageSlice[] {
  const slices: UsageSlice[] = [];
  for (let s = from; s < to; s = Math.min(floorTo(s, HOUR_MS) + HOUR_MS, to)) slices.push(emptySlice(s, Math.min(floorTo(s, HOUR_MS) + HOUR_MS, to)));
  return slices;
}

type Event = { at: number; order: 0 | 1 | 2; credits: number; appId: string; denial?: DenialPoint };

function eventsOf(draws: DrawSpan[], denials: DenialPoint[], from: number, to: number): { carried: DrawSpan[]; events: Event[] } {
  const carried: DrawSpan[] = [];
  const events: Event[] = [];
  for (const d of draws) {
    if (d.end <= d.start || d.end <= from || d.start >= to || d.credits <= 0) continue;
    if (d.start < from) carried.push(d);
    else events.push({ at: d.start, order: 1, credits: d.credits, appId: d.appId });
    if (d.end < to) events.push({ at: d.end, order: 0, credits: -d.credits, appId: d.appId });
  }
  for (const denial of denials) if (denial.at >= from && denial.at < to) events.push({ at: denial.at, order: 2, credits: 0, appId: denial.appId, denial });
  // At one instant: credits come back first, then draws open, then denials see the result.
  events.sort((a, b) => a.at - b.at || a.order - b.order);
  return { carried, events };
}

class Sweep {
  level = 0;
  readonly appLevels = new Map<string, number>();
  private index = 0;

  constructor(private readonly slices: UsageSlice[]) {}

  /** Accounts the current levels from `from` to `to`, slice by slice. */
  advance(from: number, to: number): void {
    let t = from;
    while (t < to) {
      while (this.slices[this.index].end <= t) this.index += 1;
      const slice = this.slices[this.index];
      const until = Math.min(slice.end, to);
      const seconds = (until - t) / 1000;
      if (this.level > 0) bump(slice.levelSeconds, this.level, seconds);
      for (const [appId, level] of this.appLevels) {
        if (level <= 0) continue;
        const app = appOf(slice, appId);
        app.creditSeconds += level * seconds;
        app.peak = Math.max(app.peak, level);
      }
      t = until;
    }
  }

  sliceAt(t: number): UsageSlice {
    while (this.slices[this.index].end <= t) this.index += 1;
    return this.slices[this.index];
  }

  /** A draw held since before the window: it raises the levels but was no request of this window. */
  carry(draw: DrawSpan): void {
    this.level += draw.credits;
    this.appLevels.set(draw.appId, (this.appLevels.get(draw.appId) ?? 0) + draw.credits);
  }

  apply(event: Event): void {
    if (event.denial) {
      const denial = event.denial;
      const app = appOf(this.sliceAt(event.at), denial.appId);
      app.denials[denial.reason] += denial.count;
      if (denial.falseDenial) app.falseDenials += denial.count;
      else if (limitedByCap(denial.reason)) bump(this.sliceAt(event.at).requestLevels, this.level + denial.requested, denial.count);
      return;
    }
    this.level += event.credits;
    this.appLevels.set(event.appId, (this.appLevels.get(event.appId) ?? 0) + event.credits);
    if (event.credits > 0) bump(this.sliceAt(event.at).requestLevels, this.level, 1);
  }
}

/**
 * The hour slices of [from, to) (ms): a sweep over draw openings and ends (a draw held
 * before `from` is carried in, not counted as a request), denials, lease counts and the
 * idle part of each draw. Pure, so rollups and raw reads share it and specs pin it down.
 */
export function computeSlices(input: { from: number; to: number; draws: DrawSpan[]; denials: DenialPoint[]; leaseCounts: LeaseCount[] }): UsageSlice[] {
  const { from, to } = input;
  const slices = hourSlices(from, to);
  if (slices.length === 0) return slices;
  const sweep = new Sweep(slices);
  const { carried, events } = eventsOf(input.draws, input.denials, from, to);
  for (const d of carried) sweep.carry(d);
  let t = from;
  for (const event of events) {
    sweep.advance(t, event.at);
    t = event.at;
    sweep.apply(event);
  }
  sweep.advance(t, to);
  for (const slice of slices) {
    for (const [level, s] of slice.levelSeconds) {
      if (s > 0) slice.peak = Math.max(slice.peak, level);
      slice.creditSeconds += level * s;
    }
  }
  addIdle(slices, input.draws);
  addLeaseCounts(slices, input.leaseCounts);
  return slices;
}

/** Index of the slice holding `t`: slices are [from, next hour), then whole hours. */
function sliceIndex(slices: UsageSlice[], t: number): number {
  const first = floorTo(slices[0].start, HOUR_MS);
  return Math.max(0, Math.min(slices.length - 1, Math.floor((t - first) / HOUR_MS)));
}

function addIdle(slices: UsageSlice[], draws: DrawSpan[]): void {
  for (const d of draws) {
    if (!d.idle || d.credits <= 0) continue;
    const last = sliceIndex(slices, d.end - 1);
    for (let i = sliceIndex(slices, d.start); i <= last; i += 1) {
      const slice = slices[i];
      const a = Math.max(slice.start, d.start);
      const b = Math.min(slice.end, d.end);
      if (a >= b) continue;
      const ms = heldWhileIdleMs(d.idle, a, b);
      if (ms > 0) appOf(slice, d.appId).idleCreditSeconds += (d.credits * ms) / 1000;
    }
  }
}

function addLeaseCounts(slices: UsageSlice[], counts: LeaseCount[]): void {
  for (const c of counts) {
    if (c.hour < floorTo(slices[0].start, HOUR_MS) || c.hour >= slices[slices.length - 1].end) continue;
    const slice = slices[sliceIndex(slices, c.hour)];
    const app = appOf(slice, c.appId);
    app.leases += c.leases;
    app.distinctPrincipals += c.principals;
  }
}

/** Adds `from` into `into` (levels, requests, per-app sums and peaks); distinct principals are left to the caller. */
export function mergeInto(into: UsageSlice, from: UsageSlice): void {
  into.peak = Math.max(into.peak, from.peak);
  into.creditSeconds += from.creditSeconds;
  for (const [level, s] of from.levelSeconds) bump(into.levelSeconds, level, s);
  for (const [level, n] of from.requestLevels) bump(into.requestLevels, level, n);
  for (const [appId, a] of from.apps) {
    const app = appOf(into, appId);
    app.peak = Math.max(app.peak, a.peak);
    app.creditSeconds += a.creditSeconds;
    app.idleCreditSeconds += a.idleCreditSeconds;
    app.leases += a.leases;
    app.falseDenials += a.falseDenials;
    for (const reason of Object.keys(a.denials) as DenialReason[]) app.denials[reason] += a.denials[reason];
  }
  into.start = Math.min(into.start, from.start);
  into.end = Math.max(into.end, from.end);
}

export function peakOf(slice: UsageSlice): number {
  return slice.peak;
}

export function creditSecondsOf(slice: UsageSlice): number {
  return slice.creditSeconds;
}

export function denialsOf(slice: UsageSlice): { trueDenials: number; falseDenials: number } {
  let all = 0;
  let falseDenials = 0;
  for (const app of slice.apps.values()) {
    all += app.denials.POOL_EXHAUSTED + app.denials.GROUP_LIMIT_REACHED + app.denials.QUEUE_TIMEOUT;
    falseDenials += app.falseDenials;
  }
  return { trueDenials: all - falseDenials, falseDenials };
}
