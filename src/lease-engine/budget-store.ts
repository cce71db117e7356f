import type { Cluster, Redis } from 'ioredis';
import { assertIds } from './lease-codec';
import { RedisFunctions } from './redis-functions';

const SCRIPT_FILES = {
  reserve: ['budget-reserve.lua', false],
  settle: ['budget-settle.lua', false],
  release: ['budget-release.lua', false],
  charge: ['budget-charge.lua', false],
  define: ['budget-define.lua', false],
  install: ['budget-install.lua', false],
  read: ['budget-read.lua', true],
  holds: ['budget-holds.lua', true],
} as const;

type ScriptName = keyof typeof SCRIPT_FILES;
type Reply = (string | number)[];

export type BudgetPeriodName = 'DAY' | 'MONTH' | 'TOTAL';

/** The period keys of one instant, UTC: d<yyyymmdd>, m<yyyymm>. TOTAL's is always t. */
export interface PeriodKeys {
  day: string;
  month: string;
}

export interface ReservationRecord {
  /** Micro-units of the currency. */
  amount: number;
  expiresAtMs: number;
  seq: number;
  /** The budget periods it holds, "<budgetId>:<periodKey>" (as PostgreSQL keeps them). */
  holds: string[];
}

export type ReserveResult =
  | { status: 'OK' | 'REPLAYED'; epoch: string; reservation: ReservationRecord }
  | { status: 'BUDGET_EXHAUSTED'; budgetId: string; remaining: number }
  | { status: 'UNAVAILABLE' };

export interface ReserveInput {
  organizationId: string;
  reservationId: string;
  amount: number;
  reservationMs: number;
  periods: PeriodKeys;
  /** o, t:<team>, p:<principalId>, w:<workUnitId>: see budgetSubjects. */
  subjects: string[];
}

export interface BudgetDefinition {
  id: string;
  period: BudgetPeriodName;
  /** Micro-units. */
  limit: number;
  subject: string;
}

export interface ChargeEvent {
  /** Micro-units. */
  cost: number;
  periods: PeriodKeys;
  subjects: string[];
}

export interface BudgetFigures {
  /** null: Redis does not know the budget (created, or deleted, under another epoch). */
  limit: number | null;
  spent: number;
  reserved: number;
}

export interface InstallState {
  epoch: string;
  seq: string;
  budgets: BudgetDefinition[];
  spent: Array<{ budgetId: string; period: string; amount: number }>;
  reservations: Array<{ id: string } & ReservationRecord>;
}

/** The subjects a caller's reservation or usage falls under; their budgets all apply. */
export function budgetSubjects(caller: { principalId: string; team: string | null; workUnitId: string | null }): string[] {
  const subjects = ['o', `p:${caller.principalId}`];
  if (caller.team) subjects.push(`t:${caller.team}`);
  if (caller.workUnitId) subjects.push(`w:${caller.workUnitId}`);
  return subjects;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** The UTC day and month of an instant as period keys. */
export function periodKeys(atMs: number): PeriodKeys {
  const d = new Date(atMs);
  const month = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}`;
  return { day: `d${month}${pad(d.getUTCDate())}`, month: `m${month}` };
}

export function periodKeyOf(period: BudgetPeriodName, keys: PeriodKeys): string {
  return period === 'DAY' ? keys.day : period === 'MONTH' ? keys.month : 't';
}

/** The budget id of a hold "<budgetId>:<periodKey>". */
export function budgetIdOf(hold: string): string {
  return hold.slice(0, hold.indexOf(':'));
}

function parseRecord(record: string): ReservationRecord {
  const a = record.indexOf('|');
  const b = record.indexOf('|', a + 1);
  const c = record.indexOf('|', b + 1);
  const holds = record.slice(c + 1);
  return {
    amount: Number(record.slice(0, a)),
    expiresAtMs: Number(record.slice(a + 1, b)),
    seq: Number(record.slice(b + 1, c)),
    holds: holds === '' ? [] : holds.split(','),
  };
}

function formatRecord(r: ReservationRecord): string {
  return `${r.amount}|${r.expiresAtMs}|${r.seq}|${r.holds.join(',')}`;
}

/** u|<id>|<period> or sp|<id>|<period> of a DAY or MONTH period that ended before keepFrom's. */
function isStalePeriodField(field: string, keepFrom: PeriodKeys): boolean {
  if (!field.startsWith('u|') && !field.startsWith('sp|')) return false;
  const period = field.slice(field.lastIndexOf('|') + 1);
  if (period.startsWith('d')) return period.length === keepFrom.day.length && period < keepFrom.day;
  if (period.startsWith('m')) return period.length === keepFrom.month.length && period < keepFrom.month;
  return false;
}

function assertMicros(...amounts: number[]): void {
  for (const amount of amounts) if (!Number.isSafeInteger(amount) || amount < 0) throw new Error(`Not a micro-unit amount: ${amount}`);
}

/**
 * All Redis state of compute budgets: each organization's budgets, their spent and reserved
 * figures per period and its OPEN reservations, under one hash tag per organization, changed
 * only by the functions of lua/budget-*.lua. Money is in integer micro-units of the
 * organization's currency, so sums are exact. Plain class over an ioredis client; the budgets
 * module wraps it in a provider.
 */
export class BudgetStore {
  private readonly functions: RedisFunctions<ScriptName>;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
  ) {
    this.functions = new RedisFunctions(redis, 'tokenpool_budget', 'budget-lib.lua', SCRIPT_FILES);
  }

  /** The one key the scripts are called with; the others derive from it (same hash tag). */
  keyBase(organizationId: string): string {
    return `${this.prefix}:{budgets:${organizationId}}`;
  }

  /** Checks every budget of the subjects and holds the amount on all of them, in one step. */
  async reserve(input: ReserveInput): Promise<ReserveResult> {
    assertIds(input.reservationId);
    assertMicros(input.amount);
    const reply = await this.run<string | Reply>('reserve', input.organizationId, [
      input.reservationId,
      input.amount,
      input.reservationMs,
      input.periods.day,
      input.periods.month,
      `r|${input.reservationId}`,
      ...input.subjects.map((subject) => `s|${subject}`),
    ]);
    if (typeof reply === 'string') {
      const bar = reply.indexOf('|');
      return { status: 'OK', epoch: reply.slice(0, bar), reservation: parseRecord(reply.slice(bar + 1)) };
    }
    switch (reply[0]) {
      case 'REPLAYED':
        return { status: 'REPLAYED', epoch: String(reply[1]), reservation: parseRecord(String(reply[2])) };
      case 'BUDGET_EXHAUSTED':
        return { status: 'BUDGET_EXHAUSTED', budgetId: String(reply[1]), remaining: Number(reply[2]) };
      case 'UNAVAILABLE':
        return { status: 'UNAVAILABLE' };
      default:
        throw new Error(`Budget reservation failed: ${String(reply[0])}`);
    }
  }

  /** Releases the hold and adds `cost` to the held budget periods; false when `epoch` is not Redis's. */
  async settle(
    organizationId: string,
    settlement: { reservationId: string; cost: number; epoch: string; holds: string[]; onlyIfHeld?: boolean },
  ): Promise<'OK' | 'STALE' | 'NOT_HELD'> {
    assertMicros(settlement.cost);
    const args = [settlement.reservationId, settlement.cost, settlement.epoch, settlement.holds.join(','), `r|${settlement.reservationId}`];
    if (settlement.onlyIfHeld) args.push('1');
    return this.run<'OK' | 'STALE' | 'NOT_HELD'>('settle', organizationId, args);
  }

  /** Releases the holds of these reservations; returns how many Redis held. */
  async release(organizationId: string, reservationIds: string[]): Promise<number> {
    if (reservationIds.length === 0) return 0;
    return Number(await this.run<number>('release', organizationId, reservationIds));
  }

  /** Adds usage recorded without a reservation to `spent`; false when `epoch` is not Redis's. */
  async charge(organizationId: string, epoch: string, events: ChargeEvent[]): Promise<boolean> {
    const args: (string | number)[] = [epoch];
    for (const event of events) {
      if (event.cost === 0) continue;
      assertMicros(event.cost);
      args.push(event.cost, event.periods.day, event.periods.month, event.subjects.length, ...event.subjects);
    }
    if (args.length === 1) return true;
    return Number(await this.run<number>('charge', organizationId, args)) === 1;
  }

  /** Writes or removes a budget's definition; false when `epoch` is not Redis's (the next rebuild reads it). */
  async define(
    organizationId: string,
    epoch: string,
    change: { op: 'put'; budget: BudgetDefinition } | { op: 'del'; budgetId: string; subject: string },
  ): Promise<boolean> {
    const args =
      change.op === 'put'
        ? [epoch, 'put', change.budget.id, change.budget.subject, change.budget.period, change.budget.limit]
        : [epoch, 'del', change.budgetId, change.subject];
    return Number(await this.run<number>('define', organizationId, args)) === 1;
  }

  /** Replaces the organization's state with one rebuilt from PostgreSQL; returns the reservations restored. */
  async install(organizationId: string, state: InstallState): Promise<number> {
    const payload = JSON.stringify({
      epoch: state.epoch,
      seq: state.seq,
      budgets: state.budgets.map((b) => [b.id, b.period, String(b.limit), b.subject]),
      spent: state.spent.map((s) => [s.budgetId, s.period, String(s.amount)]),
      reservations: state.reservations.map((r) => [r.id, formatRecord(r), r.expiresAtMs]),
    });
    return Number(await this.run<number>('install', organizationId, [payload]));
  }

  /** Live figures of these budgets in the periods given, with Redis's epoch (null: state lost). */
  async read(organizationId: string, periods: PeriodKeys, budgetIds: string[]): Promise<{ epoch: string | null; figures: BudgetFigures[] }> {
    const reply = await this.run('read', organizationId, [periods.day, periods.month, ...budgetIds]);
    const epoch = reply[0] === '' ? null : String(reply[0]);
    return {
      epoch,
      figures: budgetIds.map((_, i) => ({
        limit: reply[1 + 3 * i] === '' ? null : Number(reply[1 + 3 * i]),
        spent: Number(reply[2 + 3 * i]),
        reserved: Number(reply[3 + 3 * i]),
      })),
    };
  }

  /** Which of these reservations Redis holds OPEN, with its epoch, seq and clock. */
  async holds(organizationId: string, reservationIds: string[]): Promise<{ epoch: string | null; seq: number; nowMs: number; held: Set<string> }> {
    const reply = await this.run('holds', organizationId, reservationIds);
    return {
      epoch: reply[0] === '' ? null : String(reply[0]),
      seq: Number(reply[1]),
      nowMs: Number(reply[2]),
      held: new Set(reservationIds.filter((_, i) => reply[3 + i] === 1)),
    };
  }

  /**
   * Deletes the figures of periods that ended before `keepFrom` (DAY periods before its day,
   * MONTH periods before its month): nothing reads them, and a reservation lasts an hour at
   * most. A late settlement of an expired reservation may write one again; the next prune
   * takes it. Returns how many fields it deleted.
   */
  async prunePeriods(organizationId: string, keepFrom: PeriodKeys): Promise<number> {
    const key = this.keyBase(organizationId);
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, fields] = await this.redis.hscan(key, cursor, 'MATCH', '*|*|[dm]*', 'COUNT', 500);
      cursor = next;
      const stale = fields.filter((field, i) => i % 2 === 0 && isStalePeriodField(field, keepFrom));
      if (stale.length > 0) deleted += await this.redis.hdel(key, ...stale);
    } while (cursor !== '0');
    return deleted;
  }

  private run<T = Reply>(script: ScriptName, organizationId: string, args: (string | number)[]): Promise<T> {
    return this.functions.call<T>(script, this.keyBase(organizationId), args);
  }
}
