import type { Cluster, Redis } from 'ioredis';
import { PoolKeys, poolKeyBase, poolKeys } from './lease-keys';
import { RedisFunctions } from './redis-functions';
import {
  CheckoutInput,
  CheckoutResult,
  ConfigureResult,
  EndLeaseResult,
  HeartbeatInput,
  HeartbeatResult,
  InstallInput,
  InstallResult,
  LeaseRef,
  PoolConfig,
  PoolEvent,
  PoolStatus,
  QueueTicket,
  QuoteResult,
  ReadEventsInput,
  Requester,
} from './lease-store.types';
import { assertIds, checkoutArgs, escapeTeam, installPayload, packedCatalog, parseEvent, parseGrant, queueFull, refusal, Reply } from './lease-codec';

/**
 * The scripts run as Redis Functions of one library (redis-functions.ts): lease-lib.lua (key
 * layout and shared helpers), then each file below as the body of one function. Every
 * function takes one key, the pool's key base, and derives the pool's other keys from it
 * (same hash tag). Files marked read-only get the no-writes flag.
 */
const SCRIPT_FILES = {
  install: ['install.lua', false],
  configure: ['configure.lua', false],
  checkout: ['checkout.lua', false],
  heartbeat: ['heartbeat.lua', false],
  heartbeats: ['heartbeats.lua', false],
  end: ['end-lease.lua', false],
  sweep: ['sweep.lua', false],
  quote: ['quote.lua', false],
  leaveQueue: ['leave-queue.lua', false],
  status: ['status.lua', true],
  held: ['held-leases.lua', true],
} as const;

type ScriptName = keyof typeof SCRIPT_FILES;
/** check-out answers a new grant with its bare record, check-in its usual end with 1. */
type FastReply = string | number | Reply;

/** Lease ids per ZMSCORE in heldLeases. */
const HELD_LEASES_PAGE = 1000;

/** heartbeat's answer: a lease it extended also tells the expiry it replaced. */
export type HeartbeatOutcome = Exclude<HeartbeatResult, { status: 'OK' }> | { status: 'OK'; expiresAtMs: number; previousExpiresAtMs: number };

/**
 * All Redis state of leases: per-pool counters, leases, draws and the expiry stream, changed
 * only by one atomic Lua function per operation, with the Redis clock as the only clock.
 * Plain class over an ioredis client; the leases module wraps it in a provider.
 */
export class LeaseStore {
  private readonly functions: RedisFunctions<ScriptName>;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
  ) {
    this.functions = new RedisFunctions(redis, 'tokenpool_lease', 'lease-lib.lua', SCRIPT_FILES);
  }

  /** (Re)builds the pool from the database; see lua/install.lua. */
  async install(poolId: string, input: InstallInput): Promise<InstallResult> {
    const [leasesRestored, drawsRestored, inUse] = (await this.run('install', poolId, [installPayload(input)])) as Reply;
    return { leasesRestored: Number(leasesRestored), drawsRestored: Number(drawsRestored), inUse: Number(inUse) };
  }

  /**
   * Writes the pool's cap, apps and team limits unless Redis holds a newer version of them;
   * works without an epoch (never creates one) and ends no lease. See lua/configure.lua.
   */
  async configure(poolId: string, config: PoolConfig): Promise<ConfigureResult> {
    config.apps.forEach((app) => assertIds(app.appId));
    const payload = JSON.stringify({ version: config.version, cap: config.cap, ...packedCatalog(config) });
    const [written, version] = (await this.run('configure', poolId, [payload])) as Reply;
    return { written: written === 1, version: String(version) };
  }

  /**
   * Joins, takes over or opens a draw for a new lease. A leaseId that is already an active
   * lease of the pool replays that lease's first grant (replayed: true) and creates nothing.
   */
  async checkout(input: CheckoutInput): Promise<CheckoutResult> {
    assertIds(input.leaseId, input.appId, input.principalId, input.workUnitId ?? '', input.drawId ?? '');
    const reply = await this.run('checkout', input.poolId, checkoutArgs(input));
    if (typeof reply === 'string') return parseGrant(input.leaseId, reply, false);
    const status = Array.isArray(reply) ? reply[0] : reply;
    switch (status) {
      case 'REPLAYED':
        return parseGrant(input.leaseId, String((reply as Reply)[1]), true);
      case 'POOL_EXHAUSTED':
      case 'GROUP_LIMIT_REACHED':
        return refusal(status, reply as Reply);
      case 'QUEUE_FULL':
        return queueFull(reply as Reply);
      case 'UNAVAILABLE':
      case 'UNKNOWN_APP':
        return { status };
      default:
        throw new Error(`Lease checkout failed: ${String(status)} (lease ${input.leaseId})`);
    }
  }

  /**
   * Sets an active lease's expiry to now + its length; an ended or expired lease stays ended.
   * Also answers the expiry the heartbeat replaced.
   */
  async heartbeat(input: HeartbeatInput): Promise<HeartbeatOutcome> {
    const args = input.leaseMs === undefined ? [input.leaseId] : [input.leaseId, input.leaseMs];
    const [status, expiresAtMs, previousExpiresAtMs] = (await this.run('heartbeat', input.poolId, args)) as Reply;
    if (status === 'OK') return { status, expiresAtMs: Number(expiresAtMs), previousExpiresAtMs: Number(previousExpiresAtMs) };
    return { status: status as 'NOT_ACTIVE' | 'UNAVAILABLE' };
  }

  /**
   * Heartbeats of many leases of one pool in one call (lua/heartbeats.lua): an answer per
   * lease, in the order given, or UNAVAILABLE for them all when the pool's state is lost.
   * Ids must be distinct.
   */
  async heartbeatMany(poolId: string, leases: Array<{ leaseId: string; leaseMs?: number }>): Promise<HeartbeatOutcome[] | { status: 'UNAVAILABLE' }> {
    if (leases.length === 0) return [];
    assertIds(...leases.map((l) => l.leaseId));
    const reply = (await this.run(
      'heartbeats',
      poolId,
      leases.flatMap((l) => [l.leaseId, l.leaseMs ?? 0]),
    )) as Reply;
    if (reply[0] === 'UNAVAILABLE') return { status: 'UNAVAILABLE' };
    return leases.map((_, i): HeartbeatOutcome => {
      if (reply[3 * i] !== 'OK') return { status: 'NOT_ACTIVE' };
      return { status: 'OK', expiresAtMs: Number(reply[3 * i + 1]), previousExpiresAtMs: Number(reply[3 * i + 2]) };
    });
  }

  /**
   * A lease's card: what a heartbeat needs to know of it besides Redis's pool state (its pool,
   * organization, holder and grant), so heartbeats need no PostgreSQL. One key per lease,
   * outside the pool's hash slot (a heartbeat names only the lease), living ttlMs.
   */
  async saveCard(leaseId: string, card: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.cardKey(leaseId), card, 'PX', ttlMs);
  }

  readCard(leaseId: string): Promise<string | null> {
    return this.redis.get(this.cardKey(leaseId));
  }

  /** The card lives ttlMs from now. */
  async keepCard(leaseId: string, ttlMs: number): Promise<void> {
    await this.redis.pexpire(this.cardKey(leaseId), ttlMs);
  }

  async dropCard(leaseId: string): Promise<void> {
    await this.redis.unlink(this.cardKey(leaseId));
  }

  /** Ends the lease; its draw lingers for the app's lingerMs if this was its last lease. */
  checkin(ref: LeaseRef): Promise<EndLeaseResult> {
    return this.endLease(ref, 'checkin');
  }

  /** Ends the lease at once, without linger. */
  revoke(ref: LeaseRef): Promise<EndLeaseResult> {
    return this.endLease(ref, 'revoke');
  }

  /**
   * Collects every expired lease and due linger of the pool and drops the fair queue's lapsed
   * tickets, a bounded batch per call; returns how many leases and lingers it ended.
   */
  async sweep(poolId: string): Promise<number> {
    let ended = 0;
    let queueCursor = '';
    for (;;) {
      const [leases, lingers, more, cursor] = (await this.run('sweep', poolId, [queueCursor])) as Reply;
      ended += Number(leases) + Number(lingers);
      queueCursor = String(cursor);
      if (more !== 1 && queueCursor === '-') return ended;
    }
  }

  /** Read-only counters; inUse may include what is due but not yet swept. */
  async status(poolId: string): Promise<PoolStatus> {
    const [epoch, cap, inUse, activeLeases, reservedUnused, queued] = (await this.run('status', poolId, [])) as Reply;
    return {
      epoch: epoch === '' ? null : String(epoch),
      cap: Number(cap),
      inUse: Number(inUse),
      activeLeases: Number(activeLeases),
      reservedUnused: Number(reservedUnused),
      queued: Number(queued),
    };
  }

  /** What a check-out would get now, decided by the same Lua as checkout. */
  async quote(input: Requester): Promise<QuoteResult> {
    assertIds(input.appId, input.principalId, input.workUnitId ?? '');
    const [status, cost, grantable, available, queuedAhead] = (await this.run('quote', input.poolId, [
      input.appId,
      input.principalId,
      escapeTeam(input.team),
      input.host ?? '',
      input.workUnitId ?? '',
    ])) as Reply;
    if (status === 'OK') {
      return { status, cost: Number(cost), grantable: grantable === 1, available: Number(available), queuedAhead: Number(queuedAhead) };
    }
    return { status: status as 'UNAVAILABLE' | 'UNKNOWN_APP' };
  }

  /** Takes a waiting check-out's ticket (its lease id) out of the fair queue; true if it was queued. */
  async leaveQueue(ticket: QueueTicket): Promise<boolean> {
    assertIds(ticket.principalId);
    const [left] = (await this.run('leaveQueue', ticket.poolId, [ticket.leaseId, ticket.principalId])) as Reply;
    return left === 1;
  }

  /**
   * Reads the pool's expiry/draw events for a consumer group, creating the group if missing.
   * A pending entry deleted from the stream (by hand, or trimmed by an older release) carries
   * nothing to record: it is acknowledged here and left out.
   */
  async readEvents(input: ReadEventsInput): Promise<PoolEvent[]> {
    const stream = this.keys(input.poolId).events;
    const read = () =>
      this.redis.xreadgroup('GROUP', input.group, input.consumer, 'COUNT', input.count, 'STREAMS', stream, input.pending ? '0' : '>') as Promise<
        [string, [string, string[] | null][]][] | null
      >;
    let reply;
    try {
      reply = await read();
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOGROUP')) throw err;
      await this.createGroup(stream, input.group);
      reply = await read();
    }
    const entries = reply?.[0]?.[1] ?? [];
    const gone = entries.filter(([, fields]) => fields === null).map(([id]) => id);
    if (gone.length > 0) await this.redis.xack(stream, input.group, ...gone);
    return entries.flatMap(([id, fields]) => (fields === null ? [] : [parseEvent(id, fields)]));
  }

  async ackEvents(poolId: string, group: string, ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.redis.xack(this.keys(poolId).events, group, ...ids);
  }

  /** Creates the pool's events stream and the consumer group (reading from the start) if either is missing. */
  async ensureEventGroup(poolId: string, group: string): Promise<void> {
    await this.createGroup(this.keys(poolId).events, group);
  }

  /**
   * Which of these leases and draws the pool holds in Redis (live, or a draw lingering), read
   * with the pool's epoch in one step; null epoch: the pool's state is lost.
   */
  async holds(poolId: string, ids: { leaseIds?: string[]; drawIds?: string[] }): Promise<{ epoch: string | null; leases: Set<string>; draws: Set<string> }> {
    const leaseIds = ids.leaseIds ?? [];
    const drawIds = ids.drawIds ?? [];
    assertIds(...leaseIds, ...drawIds);
    const fields = ['epoch', ...leaseIds.map((id) => `l|${id}`), ...drawIds.map((id) => `d|${id}`)];
    const [epoch, ...records] = await this.redis.hmget(this.keys(poolId).state, ...fields);
    return {
      epoch,
      leases: new Set(leaseIds.filter((_, i) => records[i] !== null)),
      draws: new Set(drawIds.filter((_, i) => records[leaseIds.length + i] !== null)),
    };
  }

  private cardKey(leaseId: string): string {
    return `${this.prefix}:card:${leaseId}`;
  }

  /**
   * Redis's clock, and the expiry of each of these leases the pool holds (a lease it does not
   * hold is absent from the map): what the pool-state service compares with PostgreSQL's record.
   * Both come from the pool's own node (lua/held-leases.lua), which on a Cluster matters.
   */
  async heldLeases(poolId: string, leaseIds: string[]): Promise<{ nowMs: number; expiresAtMs: Map<string, number> }> {
    const expiresAtMs = new Map<string, number>();
    let nowMs: number | undefined;
    for (let i = 0; i === 0 || i < leaseIds.length; i += HELD_LEASES_PAGE) {
      const page = leaseIds.slice(i, i + HELD_LEASES_PAGE);
      const [now, ...scores] = (await this.run('held', poolId, page)) as (string | number | null)[];
      // The clock of the first page: read before any of the expiries, as the caller assumes.
      nowMs ??= Number(now);
      page.forEach((id, j) => {
        if (scores[j] !== null && scores[j] !== undefined) expiresAtMs.set(id, Number(scores[j]));
      });
    }
    return { nowMs: nowMs!, expiresAtMs };
  }

  /** The pool's Redis keys, for tools and tests that inspect the state. */
  keys(poolId: string): PoolKeys {
    return poolKeys(this.prefix, poolId);
  }

  private async endLease(ref: LeaseRef, how: 'checkin' | 'revoke'): Promise<EndLeaseResult> {
    const reply = await this.run('end', ref.poolId, how === 'checkin' ? [ref.leaseId] : [ref.leaseId, how]);
    if (reply === 1) return { status: 'ENDED', drawEnded: true, lingerUntilMs: null };
    const [status, drawEnded, lingerUntil] = reply as Reply;
    if (status === 'ENDED') {
      return { status, drawEnded: drawEnded === 1, lingerUntilMs: lingerUntil === 0 ? null : Number(lingerUntil) };
    }
    return { status: status as 'NOT_ACTIVE' | 'UNAVAILABLE' };
  }

  private async createGroup(stream: string, group: string): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    } catch (err) {
      // Another consumer created it between our read and this call.
      if (!(err instanceof Error) || !err.message.startsWith('BUSYGROUP')) throw err;
    }
  }

  private run(script: ScriptName, poolId: string, args: (string | number)[]): Promise<FastReply> {
    return this.functions.call<FastReply>(script, poolKeyBase(this.prefix, poolId), args);
  }
}
