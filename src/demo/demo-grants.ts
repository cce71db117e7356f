import type { DenialReason } from '../leases/denial.entity';
import type { DemoApp, DemoPool } from './demo-catalog';
import type { DemoRequest } from './demo-day';
import { DemoRandom } from './demo-random';

export interface DemoGrant extends DemoRequest {
  end: number;
}

export interface DemoDenial {
  app: string;
  principal: string;
  at: number;
  reason: DenialReason;
}

interface HeldDraw {
  key: string | null;
  team: string;
  credits: number;
  lastEnd: number;
  end: number;
}

function shareKey(app: DemoApp, r: DemoRequest): string | null {
  if (app.shareScope === 'PRINCIPAL') return `${app.key}|${r.principal}`;
  if (app.shareScope === 'PRINCIPAL_HOST') return `${app.key}|${r.principal}|${r.host ?? ''}`;
  if (app.shareScope === 'WORK_UNIT' && r.workUnit !== null) return `${app.key}|wu|${r.workUnit}`;
  return null;
}

/** Inserts by time, after requests of the same instant, so retries keep first-come order. */
function enqueue(queue: DemoRequest[], r: DemoRequest): void {
  let lo = 0;
  let hi = queue.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (queue[mid].start <= r.start) lo = mid + 1;
    else hi = mid;
  }
  queue.splice(lo, 0, r);
}

/**
 * Replays a day's demand against the pool's cap and team ceilings first come first served,
 * as the check-out script would, sharing draws by scope and holding them through linger.
 * The import refuses any draw that would have opened above the cap, so only what fits here
 * is imported; a denied request is retried after a while, up to twice (some retries land
 * within the false-denial interval, some later).
 */
export function simulateGrants(input: { pool: DemoPool; requests: DemoRequest[]; teamOf: (principal: string) => string; dayEnd: number; rng: DemoRandom }): {
  grants: DemoGrant[];
  denials: DemoDenial[];
} {
  const apps = new Map(input.pool.apps.map((a) => [a.key, a]));
  const ceilings = new Map(input.pool.limits.filter((l) => l.max !== null).map((l) => [l.team, l.max!]));
  const queue = [...input.requests].sort((a, b) => a.start - b.start);
  let held: HeldDraw[] = [];
  const grants: DemoGrant[] = [];
  const denials: DemoDenial[] = [];
  for (let r = queue.shift(); r !== undefined; r = queue.shift()) {
    const app = apps.get(r.app)!;
    const at = r.start;
    const end = at + r.durationMs;
    held = held.filter((d) => d.end > at);
    const key = shareKey(app, r);
    const joined = key === null ? undefined : held.find((d) => d.key === key);
    if (joined) {
      joined.lastEnd = Math.max(joined.lastEnd, end);
      joined.end = joined.lastEnd + (app.lingerSeconds ?? 0) * 1000;
      grants.push({ ...r, end });
      continue;
    }
    const team = input.teamOf(r.principal);
    const reason = refusal({ held, team, cost: app.cost, cap: input.pool.cap, ceiling: ceilings.get(team) });
    if (reason === null) {
      held.push({ key, team, credits: app.cost, lastEnd: end, end: end + (app.lingerSeconds ?? 0) * 1000 });
      grants.push({ ...r, end });
      continue;
    }
    denials.push({ app: r.app, principal: r.principal, at, reason });
    const retryAt = at + Math.round(input.rng.between(20, 600) * 1000);
    if (r.attempt < 2 && input.rng.chance(0.7) && retryAt + r.durationMs + 600_000 < input.dayEnd)
      enqueue(queue, { ...r, start: retryAt, attempt: r.attempt + 1 });
  }
  return { grants, denials };
}

function refusal(q: { held: HeldDraw[]; team: string; cost: number; cap: number; ceiling: number | undefined }): DenialReason | null {
  const inUse = q.held.reduce((sum, d) => sum + d.credits, 0);
  if (inUse + q.cost > q.cap) return 'POOL_EXHAUSTED';
  if (q.ceiling === undefined) return null;
  const teamInUse = q.held.reduce((sum, d) => sum + (d.team === q.team ? d.credits : 0), 0);
  return teamInUse + q.cost > q.ceiling ? 'GROUP_LIMIT_REACHED' : null;
}
