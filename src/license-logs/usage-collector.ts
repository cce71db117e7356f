import type { LogEvent } from './log-types';

/** A lease read from a log: a checkout and its end (its check-in, or an estimate). */
export interface LogLease {
  /** The checkout's event key (an lmstat holding's key): the lease's identity across imports. */
  key: string;
  feature: string;
  user: string;
  host: string;
  count: number;
  start: number;
  end: number;
  /** The end is not a check-in: a restart, the last snapshot that showed it, or the log's end. */
  estimated: boolean;
}

export interface LogDenial {
  key: string;
  feature: string;
  user: string;
  host: string;
  count: number;
  at: number;
  reason: string;
}

/** A check-in whose checkout this log does not hold: an earlier import's lease may be waiting for it. */
export interface StrayCheckIn {
  feature: string;
  user: string;
  host: string;
  at: number;
  line: number;
}

interface OpenCheckout {
  key: string;
  vendor: string | null;
  feature: string;
  user: string;
  host: string;
  count: number;
  handle: string | null;
  at: number;
  closed: boolean;
}

interface Holding {
  key: string;
  feature: string;
  user: string;
  host: string;
  count: number;
  since: number;
  lastSeen: number;
}

/**
 * Turns a log's events, in order, into leases, denials and stray check-ins. A check-in ends
 * the oldest open checkout of the same feature, user and host (and vendor), or the one of its
 * handle when the log has handles (RLM); a restart or shutdown of a daemon ends every open
 * checkout of that daemon (all of them for lmgrd) at that time; whatever is still open at the
 * log's last event ends there. lmstat holdings become leases from their start to the last
 * snapshot that showed them. Ends that are not check-ins are flagged estimated.
 */
export class UsageCollector {
  readonly leases: LogLease[] = [];
  readonly denials: LogDenial[] = [];
  readonly strays: StrayCheckIn[] = [];
  first: number | null = null;
  last: number | null = null;
  private readonly open = new Map<string, OpenCheckout[]>();
  private readonly byHandle = new Map<string, OpenCheckout>();
  private readonly holdings = new Map<string, Holding>();
  private openCount = 0;

  add(event: LogEvent): void {
    const at = event.kind === 'HELD' ? event.since : event.at;
    if (this.first === null || at < this.first) this.first = at;
    if (this.last === null || event.at > this.last) this.last = event.at;
    switch (event.kind) {
      case 'OUT': {
        const checkout: OpenCheckout = { ...pick(event), vendor: event.vendor, handle: event.handle, key: event.key, at: event.at, closed: false };
        const match = matchKey(event.vendor, event.feature, event.user, event.host);
        const queue = this.open.get(match);
        if (queue) queue.push(checkout);
        else this.open.set(match, [checkout]);
        if (event.handle !== null) this.byHandle.set(handleKey(event.vendor, event.handle), checkout);
        this.openCount += 1;
        return;
      }
      case 'IN': {
        const checkout = this.checkoutFor(event.vendor, event.feature, event.user, event.host, event.handle);
        if (checkout) this.close(checkout, event.at, false);
        else this.strays.push({ feature: event.feature, user: event.user, host: event.host, at: event.at, line: event.line });
        return;
      }
      case 'DENIED':
        this.denials.push({ key: event.key, ...pick(event), at: event.at, reason: event.reason });
        return;
      case 'RESTART':
        if (this.openCount === 0) return;
        for (const queue of this.open.values()) {
          for (const checkout of queue) {
            if (!checkout.closed && (event.vendor === null || checkout.vendor === event.vendor)) this.close(checkout, event.at, true);
          }
        }
        return;
      case 'SNAPSHOT':
        return;
      case 'HELD': {
        const holding = this.holdings.get(event.key);
        if (holding) holding.lastSeen = Math.max(holding.lastSeen, event.at);
        else this.holdings.set(event.key, { key: event.key, ...pick(event), since: event.since, lastSeen: event.at });
        return;
      }
    }
  }

  /** Ends what is still open at the log's last event; call once, after the last event. */
  finish(): void {
    if (this.last !== null) {
      for (const queue of this.open.values()) for (const checkout of queue) if (!checkout.closed) this.close(checkout, this.last, true);
    }
    for (const h of this.holdings.values()) {
      this.leases.push({
        key: h.key,
        feature: h.feature,
        user: h.user,
        host: h.host,
        count: h.count,
        start: h.since,
        end: Math.max(h.since, h.lastSeen),
        estimated: true,
      });
    }
    this.open.clear();
    this.byHandle.clear();
    this.holdings.clear();
  }

  private checkoutFor(vendor: string | null, feature: string, user: string, host: string, handle: string | null): OpenCheckout | null {
    if (handle !== null) {
      const byHandle = this.byHandle.get(handleKey(vendor, handle));
      if (byHandle && !byHandle.closed) return byHandle;
    }
    const queue = this.open.get(matchKey(vendor, feature, user, host));
    if (!queue) return null;
    while (queue.length > 0 && queue[0].closed) queue.shift();
    return queue[0] ?? null;
  }

  private close(checkout: OpenCheckout, at: number, estimated: boolean): void {
    checkout.closed = true;
    this.openCount -= 1;
    if (checkout.handle !== null) this.byHandle.delete(handleKey(checkout.vendor, checkout.handle));
    const { key, feature, user, host, count } = checkout;
    this.leases.push({ key, feature, user, host, count, start: checkout.at, end: Math.max(checkout.at, at), estimated });
  }
}

function pick(event: { feature: string; user: string; host: string; count: number }) {
  return { feature: event.feature, user: event.user, host: event.host, count: event.count };
}

function matchKey(vendor: string | null, feature: string, user: string, host: string): string {
  return `${vendor ?? ''}\u0000${feature}\u0000${user}\u0000${host}`;
}

function handleKey(vendor: string | null, handle: string): string {
  return `${vendor ?? ''}\u0000${handle}`;
}
