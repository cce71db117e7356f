/**
 * Checks a recorded history of lease operations against the promises. Each operation
 * carries the client-side start and end of its request (one machine, one clock); the
 * checker only uses what the client could know, and errs towards not flagging:
 * - a lease counts as held from the moment its grant was acknowledged (answer received)
 *   until the moment its holder started to release it, or until the last expiry it was
 *   told, whichever comes first: a sub-interval of the time it really held its credits;
 * - so any instant where such intervals hold more than the cap is a real over-cap instant.
 */

export interface GrantRecord {
  leaseId: string;
  poolId: string;
  team: string | null;
  credits: number;
  fencingToken: string;
  requestedAt: number;
  acknowledgedAt: number;
}

export interface LeaseEndRecord {
  leaseId: string;
  /** When the client sent the check-in (or gave the lease up); null if it never did. */
  releaseStartedAt: number | null;
  /** The latest expiresAt the client was told (from the grant or a heartbeat), ms. */
  lastKnownExpiresAt: number;
}

export interface History {
  grants: GrantRecord[];
  ends: LeaseEndRecord[];
}

export interface Violation {
  kind: 'OVER_CAP' | 'TEAM_OVER_CEILING' | 'DUPLICATE_FENCING_TOKEN' | 'FENCING_TOKEN_WENT_BACK';
  detail: string;
}

interface Interval {
  from: number;
  to: number;
  credits: number;
  team: string | null;
}

function heldIntervals(history: History, poolId: string): Interval[] {
  const ends = new Map(history.ends.map((e) => [e.leaseId, e]));
  const intervals: Interval[] = [];
  for (const grant of history.grants) {
    if (grant.poolId !== poolId || grant.credits === 0) continue;
    const end = ends.get(grant.leaseId);
    const to = Math.min(end?.releaseStartedAt ?? Infinity, end?.lastKnownExpiresAt ?? Infinity);
    if (to > grant.acknowledgedAt) intervals.push({ from: grant.acknowledgedAt, to, credits: grant.credits, team: grant.team });
  }
  return intervals;
}

/** The highest sum of credits held at one instant by the given intervals, and when. */
export function peakHeld(intervals: Interval[]): { peak: number; at: number } {
  const events = intervals.flatMap((i) => [
    { at: i.from, delta: i.credits },
    { at: i.to, delta: -i.credits },
  ]);
  // At equal times, ends go first: half-open intervals [from, to).
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let held = 0;
  let peak = 0;
  let at = 0;
  for (const event of events) {
    held += event.delta;
    if (held > peak) {
      peak = held;
      at = event.at;
    }
  }
  return { peak, at };
}

export function checkHistory(history: History, limits: { poolId: string; cap: number; teamCeilings?: Record<string, number> }): Violation[] {
  const violations: Violation[] = [];
  const intervals = heldIntervals(history, limits.poolId);
  const { peak, at } = peakHeld(intervals);
  if (peak > limits.cap) violations.push({ kind: 'OVER_CAP', detail: `${peak} credits held at ${new Date(at).toISOString()} with a cap of ${limits.cap}` });
  for (const [team, ceiling] of Object.entries(limits.teamCeilings ?? {})) {
    const team_ = peakHeld(intervals.filter((i) => i.team === team));
    if (team_.peak > ceiling)
      violations.push({ kind: 'TEAM_OVER_CEILING', detail: `team ${team} held ${team_.peak} at ${new Date(team_.at).toISOString()}, ceiling ${ceiling}` });
  }
  violations.push(...checkFencing(history.grants.filter((g) => g.poolId === limits.poolId)));
  return violations;
}

/**
 * Fencing tokens are unique, and rise in real time: a grant acknowledged before another
 * was even requested has the smaller token.
 */
function checkFencing(grants: GrantRecord[]): Violation[] {
  const violations: Violation[] = [];
  const seen = new Map<string, string>();
  for (const grant of grants) {
    const other = seen.get(grant.fencingToken);
    if (other !== undefined && other !== grant.leaseId)
      violations.push({ kind: 'DUPLICATE_FENCING_TOKEN', detail: `${grant.fencingToken} given to ${other} and ${grant.leaseId}` });
    seen.set(grant.fencingToken, grant.leaseId);
  }
  const byAck = [...grants].sort((a, b) => a.acknowledgedAt - b.acknowledgedAt);
  const byRequest = [...grants].sort((a, b) => a.requestedAt - b.requestedAt);
  // Sweep: for each grant in request order, the largest token acknowledged strictly before it was requested must be smaller.
  let i = 0;
  let highest: GrantRecord | null = null;
  for (const grant of byRequest) {
    while (i < byAck.length && byAck[i].acknowledgedAt < grant.requestedAt) {
      if (!highest || BigInt(byAck[i].fencingToken) > BigInt(highest.fencingToken)) highest = byAck[i];
      i += 1;
    }
    if (highest && highest.leaseId !== grant.leaseId && BigInt(grant.fencingToken) <= BigInt(highest.fencingToken)) {
      violations.push({
        kind: 'FENCING_TOKEN_WENT_BACK',
        detail: `${grant.leaseId} got ${grant.fencingToken} after ${highest.leaseId} was acknowledged with ${highest.fencingToken}`,
      });
    }
  }
  return violations;
}
