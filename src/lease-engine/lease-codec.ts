// How the lease store packs its arguments for the Lua functions and reads their replies: the
// formats lua/lease-lib.lua defines ("|"-packed records, JSON for install and configure).
import type { AppMirror, CheckoutInput, CheckoutResult, DrawAction, GroupMirror, InstallInput, PoolEvent } from './lease-store.types';

/** A function's reply: an array of strings and numbers (lua/*.lua headers list each). */
export type Reply = (string | number)[];

/** install.lua's JSON argument: apps and groups packed as the scripts store them. */
export function installPayload(input: InstallInput): string {
  input.apps.forEach((app) => assertIds(app.appId));
  input.leases.forEach((l) => assertIds(l.leaseId, l.drawId, l.drawOpenerLeaseId, l.appId, l.principalId));
  return JSON.stringify({
    epoch: String(input.epoch),
    configVersion: input.configVersion ?? '0',
    cap: input.cap,
    graceMs: input.graceMs,
    ...packedCatalog(input),
    leases: input.leases.map((l) => ({ ...l, team: escapeTeam(l.team), host: l.host ?? '', workUnitId: l.workUnitId ?? '' })),
  });
}

/** Apps and groups packed as the scripts store them (install.lua and configure.lua). */
export function packedCatalog(config: { apps: AppMirror[]; groups: GroupMirror[] }) {
  return {
    apps: config.apps.map((app) => [app.appId, packApp(app)]),
    groups: config.groups.map((group) => [escapeTeam(group.team), packGroup(group)]),
  };
}

/**
 * checkout.lua's arguments: the ones every check-out has, then team, host, work unit, waitMs,
 * the queue's bounds (only when it waits), the draw id and the own-draw flag, leaving out the empty ones at the
 * end (most check-outs send four).
 */
export function checkoutArgs(input: CheckoutInput): (string | number)[] {
  const args: (string | number)[] = [input.leaseId, input.appId, input.principalId, input.leaseMs];
  const bounds = input.waitMs && input.queueBounds ? [input.queueBounds.perPrincipal, input.queueBounds.perPool] : ['', ''];
  const optional = [
    escapeTeam(input.team),
    input.host ?? '',
    input.workUnitId ?? '',
    input.waitMs ?? 0,
    ...bounds,
    input.drawId ?? '',
    input.ownDraw ? '1' : '',
  ];
  let last = optional.length;
  while (last > 0 && (optional[last - 1] === '' || optional[last - 1] === 0)) last--;
  for (let i = 0; i < last; i++) args.push(optional[i]);
  return args;
}

export function refusal(status: 'POOL_EXHAUSTED' | 'GROUP_LIMIT_REACHED', reply: Reply): CheckoutResult {
  return {
    status,
    requested: Number(reply[1]),
    available: Number(reply[2]),
    retryAfterMs: Number(reply[3]),
    queuedAhead: Number(reply[4]),
    neverFits: reply[5] === 1,
  };
}

export function queueFull(reply: Reply): CheckoutResult {
  return {
    status: 'QUEUE_FULL',
    bound: reply[1] === 'PRINCIPAL' ? 'PRINCIPAL' : 'POOL',
    limit: Number(reply[2]),
    retryAfterMs: Number(reply[3]),
    queuedAhead: Number(reply[4]),
  };
}

/** A lease record of lua/lease-lib.lua; the grant is its fields as first answered. */
export function parseGrant(leaseId: string, record: string, replayed: boolean): CheckoutResult {
  const [drawId, , , credits, fencingToken, acquiredAtMs, expiresAtMs, inUse, drawAction] = record.split('|');
  return {
    status: 'GRANTED',
    leaseId,
    drawId,
    credits: Number(credits),
    drawAction: drawAction as DrawAction,
    fencingToken,
    acquiredAtMs: Number(acquiredAtMs),
    expiresAtMs: Number(expiresAtMs),
    inUse: Number(inUse),
    replayed,
  };
}

/** An events entry has one field, named by its type, holding the packed event (lua/lease-lib.lua). */
export function parseEvent(id: string, [type, packed]: string[]): PoolEvent {
  const f = packed.split('|');
  if (type === 'lease_expired') return { id, type, leaseId: f[0], atMs: Number(f[1]) };
  if (type !== 'draw_ended') throw new Error(`Unknown lease event ${type} (${id})`);
  // Without an end time the draw ended when the event was recorded: the time of its id.
  const [drawId, cost, openerLeaseId, appId, principalId, openedAtMs, endedAtMs = id.slice(0, id.indexOf('-'))] = f;
  return {
    id,
    type,
    drawId,
    openerLeaseId,
    appId,
    principalId,
    cost: Number(cost),
    openedAtMs: Number(openedAtMs),
    endedAtMs: Number(endedAtMs),
  };
}

function packApp(app: AppMirror): string {
  return `${app.shareScope}|${app.lingerMs}|${app.cost}`;
}

function packGroup(group: GroupMirror): string {
  return `${group.reserved}|${group.max ?? ''}`;
}

/** Teams are free text and travel inside "|"-packed values; '' means no team. */
export function escapeTeam(team: string | null): string {
  return team ? team.replace(/%/g, '%25').replace(/\|/g, '%7C') : '';
}

/** Ids travel unescaped inside "|"-packed values; the service's ids never contain "|". */
export function assertIds(...ids: string[]): void {
  for (const id of ids) {
    if (id.includes('|')) throw new Error(`Lease store ids may not contain "|": ${id}`);
  }
}
