import type { ShareScope } from '../apps/catalog-app.entity';
import { capAt, CapChange } from '../reports/usage-math';

/** A past lease, as the import sees it (ms), with what the live path would know of its app. */
export interface PastLease {
  appId: string;
  principalId: string;
  host: string | null;
  workUnitId: string | null;
  start: number;
  end: number;
  shareScope: ShareScope;
  lingerSeconds: number;
  cost: number;
}

export interface PastDraw {
  appId: string;
  credits: number;
  /** Index of the lease that opened the draw (it carries the credits; the others carry 0). */
  opener: number;
  leases: number[];
  start: number;
  /** The last lease's end plus the app's linger. */
  end: number;
}

function shareKey(lease: PastLease): string | null {
  switch (lease.shareScope) {
    case 'PRINCIPAL':
      return `${lease.appId}|${lease.principalId}`;
    case 'PRINCIPAL_HOST':
      return `${lease.appId}|${lease.principalId}|${lease.host ?? ''}`;
    case 'WORK_UNIT':
      return lease.workUnitId === null ? null : `${lease.appId}|wu|${lease.workUnitId}`;
    default:
      return null;
  }
}

/**
 * Groups past leases into draws as the lease store would have: a lease joins the draw of its
 * share scope while that draw is held (its leases live, or within linger after the last
 * one), else it opens a new draw of its app's cost.
 */
export function groupDraws(leases: PastLease[]): PastDraw[] {
  const order = leases.map((_, i) => i).sort((a, b) => leases[a].start - leases[b].start || a - b);
  const draws: PastDraw[] = [];
  const open = new Map<string, { draw: PastDraw; lastEnd: number }>();
  for (const i of order) {
    const lease = leases[i];
    const key = shareKey(lease);
    const held = key === null ? undefined : open.get(key);
    if (held && lease.start < held.draw.end) {
      held.draw.leases.push(i);
      held.lastEnd = Math.max(held.lastEnd, lease.end);
      held.draw.end = held.lastEnd + lease.lingerSeconds * 1000;
      continue;
    }
    const draw: PastDraw = { appId: lease.appId, credits: lease.cost, opener: i, leases: [i], start: lease.start, end: lease.end + lease.lingerSeconds * 1000 };
    draws.push(draw);
    if (key !== null) open.set(key, { draw, lastEnd: lease.end });
  }
  return draws;
}

export interface CapCheck {
  /** The first imported draw that would have opened above the cap in force, if any. */
  violation: { draw: number; at: number; level: number; cap: number } | null;
  /** Credits free (cap minus in use, at least 0) at each of the given instants. */
  available: number[];
}

/**
 * Checks imported draws against the cap as the check-out script does: a draw may open only
 * if the credits held just after it fit under the cap in force then (draws held already are
 * never ended by a lower cap). `existing` are the pool's draws already recorded.
 */
export function checkCap(input: {
  existing: { start: number; end: number; credits: number }[];
  added: PastDraw[];
  changes: CapChange[];
  fallbackCap: number;
  instants: number[];
}): CapCheck {
  type Ev = { at: number; order: number; credits: number; draw?: number; instant?: number };
  const events: Ev[] = [];
  for (const d of input.existing) if (d.end > d.start) events.push({ at: d.start, order: 1, credits: d.credits }, { at: d.end, order: 0, credits: -d.credits });
  input.added.forEach((d, i) => {
    if (d.end > d.start) events.push({ at: d.start, order: 1, credits: d.credits, draw: i }, { at: d.end, order: 0, credits: -d.credits });
  });
  input.instants.forEach((at, i) => events.push({ at, order: 2, credits: 0, instant: i }));
  events.sort((a, b) => a.at - b.at || a.order - b.order);
  let level = 0;
  let violation: CapCheck['violation'] = null;
  const available = input.instants.map(() => 0);
  for (const e of events) {
    level += e.credits;
    const cap = capAt(input.changes, e.at, input.fallbackCap);
    if (e.draw !== undefined && level > cap && violation === null) violation = { draw: e.draw, at: e.at, level, cap };
    if (e.instant !== undefined) available[e.instant] = Math.max(0, cap - level);
  }
  return { violation, available };
}
