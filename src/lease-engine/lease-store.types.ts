/** Inputs and results of LeaseStore. Times are epoch milliseconds of the Redis clock. */

export type ShareScope = 'NONE' | 'PRINCIPAL' | 'PRINCIPAL_HOST' | 'WORK_UNIT';

/** An app as the store mirrors it from the catalog. */
export interface AppMirror {
  appId: string;
  cost: number;
  shareScope: ShareScope;
  lingerMs: number;
}

/** A team's group limit: `reserved` credits kept for it, at most `max` held (null = no ceiling). */
export interface GroupMirror {
  team: string;
  reserved: number;
  max: number | null;
}

/** An active lease from the database, restored by `install`. */
export interface RestoredLease {
  leaseId: string;
  drawId: string;
  /** Credits the whole draw holds (the app's cost when it was opened). */
  drawCost: number;
  drawOpenerLeaseId: string;
  drawOpenedAtMs: number;
  appId: string;
  principalId: string;
  team: string | null;
  host: string | null;
  workUnitId: string | null;
  /** Credits this lease holds: the draw's cost for its holder, 0 for a lease that joined. */
  credits: number;
  leaseMs: number;
  acquiredAtMs: number;
  fencingToken: string;
  expiresAtMs: number;
  /** A borrowed lease: its draw is its own (no share scope) and it keeps its expiry, no grace added. */
  borrowed?: boolean;
}

/**
 * A pool's configuration as the store mirrors it from the catalog, with its version: the
 * store ignores a write whose version is below the one it holds (lua/configure.lua).
 */
export interface PoolConfig {
  /** Rises with every change of the cap, an app or a team limit (a bigint, as a string). */
  version: string;
  cap: number;
  apps: AppMirror[];
  groups: GroupMirror[];
}

/** configure's answer: whether the write was taken, and the version Redis holds now. */
export interface ConfigureResult {
  written: boolean;
  version: string;
}

export interface InstallInput {
  /** Kept in the database and raised on every rebuild; embedded in fencing tokens. */
  epoch: number;
  /** The version of cap, apps and groups (PoolConfig.version); absent: '0', older than any. */
  configVersion?: string;
  cap: number;
  apps: AppMirror[];
  groups: GroupMirror[];
  leases: RestoredLease[];
  /** Restored leases expire no sooner than now + graceMs (borrowed ones keep theirs). */
  graceMs: number;
}

export interface InstallResult {
  leasesRestored: number;
  drawsRestored: number;
  inUse: number;
}

export interface Requester {
  poolId: string;
  appId: string;
  principalId: string;
  team: string | null;
  host: string | null;
  workUnitId: string | null;
}

export interface CheckoutInput extends Requester {
  /**
   * Ignored by the store; kept so callers compile. A re-sent call is recognised by its
   * leaseId, so a retry must reuse the leaseId of its first attempt.
   */
  requestId: string;
  /**
   * The dedup key: a check-out whose leaseId is an active lease of the pool returns that
   * lease's first grant (replayed: true) and creates nothing. Unique per request, never "|".
   */
  leaseId: string;
  leaseMs: number;
  /**
   * The id of a draw this check-out opens (absent: the lease id). A lease id that may be
   * granted again (one derived from an idempotency key) needs a fresh one per request, so that
   * the end of an earlier grant's draw can never be taken for this one's. A lingering draw of
   * that id makes the store derive another.
   */
  drawId?: string;
  /**
   * Always open a draw of its own, whatever the app's sharing and linger (a borrowed lease):
   * no other lease can join it or take it over, so its credits are its alone until it ends.
   */
  ownDraw?: boolean;
  /**
   * 0 = do not queue. Else a refusal puts the leaseId in the pool's fair queue (keeping its
   * place if it is queued already), alive for waitMs unless tried again; a grant takes it out.
   */
  waitMs?: number;
  /** Bounds checked when a refusal would put a new ticket in the queue (absent: none). */
  queueBounds?: QueueBounds;
}

/** Most waiting check-outs (live tickets) per principal and pool, and per pool. */
export interface QueueBounds {
  perPrincipal: number;
  perPool: number;
}

/** How the lease got its credits: a new draw, a live draw of its scope, or a lingering draw. */
export type DrawAction = 'OPENED' | 'JOINED' | 'TAKEN_OVER';

export interface Granted {
  status: 'GRANTED';
  leaseId: string;
  /** A draw opened by this check-out takes the lease's id; a joined or taken-over one keeps its own. */
  drawId: string;
  /** The draw's cost when this lease opened or took over the draw, 0 when it joined one. */
  credits: number;
  drawAction: DrawAction;
  /** Decimal integer: the epoch followed by a 12-digit counter; compare as BigInt. */
  fencingToken: string;
  acquiredAtMs: number;
  expiresAtMs: number;
  inUse: number;
  /** The leaseId was already an active lease: this is its first grant, unchanged. */
  replayed: boolean;
}

export interface Refused {
  status: 'POOL_EXHAUSTED' | 'GROUP_LIMIT_REACHED';
  requested: number;
  /** What this request may draw, after the credits the fair queue ahead of it waits for. */
  available: number;
  retryAfterMs: number;
  /** Tickets ahead in the pool's fair queue (a lapsed one counts until it is dropped; see lua/lease-lib.lua queueAhead). */
  queuedAhead: number;
  /**
   * The cost is above the team's ceiling (GROUP_LIMIT_REACHED) or the pool's cap
   * (POOL_EXHAUSTED): no wait can serve it, so it was not queued.
   */
  neverFits: boolean;
}

/** A waiting check-out refused a new ticket: it would pass a bound of the fair queue. */
export interface QueueFull {
  status: 'QUEUE_FULL';
  /** PRINCIPAL: the principal's own waiting check-outs in the pool; POOL: all of the pool's. */
  bound: 'PRINCIPAL' | 'POOL';
  limit: number;
  retryAfterMs: number;
  /** Tickets in the pool's fair queue. */
  queuedAhead: number;
}

/** The pool's epoch is missing (Redis lost its state): retry after the pool is rebuilt. */
export interface Unavailable {
  status: 'UNAVAILABLE';
}

export interface UnknownApp {
  status: 'UNKNOWN_APP';
}

export interface NotActive {
  status: 'NOT_ACTIVE';
}

export type CheckoutResult = Granted | Refused | QueueFull | Unavailable | UnknownApp;

export interface LeaseRef {
  poolId: string;
  leaseId: string;
}

/** A waiting check-out's ticket: its lease id, and its principal, whose tickets are counted. */
export interface QueueTicket extends LeaseRef {
  principalId: string;
}

export interface HeartbeatInput extends LeaseRef {
  /** New lease length; omitted = the lease keeps its own. */
  leaseMs?: number;
}

export type HeartbeatResult = { status: 'OK'; expiresAtMs: number } | NotActive | Unavailable;

export type EndLeaseResult = { status: 'ENDED'; drawEnded: boolean; lingerUntilMs: number | null } | NotActive | Unavailable;

export type QuoteResult = { status: 'OK'; cost: number; grantable: boolean; available: number; queuedAhead: number } | Unavailable | UnknownApp;

export interface PoolStatus {
  epoch: string | null;
  cap: number;
  inUse: number;
  activeLeases: number;
  reservedUnused: number;
  /** Tickets in the fair queue (a dead waiter's until the next sweep). */
  queued: number;
}

export interface LeaseExpiredEvent {
  id: string;
  type: 'lease_expired';
  leaseId: string;
  atMs: number;
}

export interface DrawEndedEvent {
  id: string;
  type: 'draw_ended';
  drawId: string;
  openerLeaseId: string;
  appId: string;
  principalId: string;
  cost: number;
  openedAtMs: number;
  endedAtMs: number;
}

export type PoolEvent = LeaseExpiredEvent | DrawEndedEvent;

export interface ReadEventsInput {
  poolId: string;
  group: string;
  consumer: string;
  count: number;
  /** Re-read this consumer's delivered but unacknowledged events (after a crash). */
  pending?: boolean;
}
