import type { CatalogAppEntity } from '../apps/catalog-app.entity';
import { AppError } from '../common/errors/app-error';
import { optionalText, requireInt } from '../common/validation/validate';
import type { DenialReason } from '../leases/denial.entity';
import type { PrincipalEntity } from '../principals/principal.entity';
import type { CapChange } from '../reports/usage-math';
import type { PastLease } from './history-draws';

/** A lease that ran in the past: from `acquiredAt` to `endedAt`, checked in (RELEASED) or EXPIRED. */
export interface ImportedLease {
  appId: string;
  principalId: string;
  acquiredAt: Date;
  endedAt: Date;
  state?: 'RELEASED' | 'EXPIRED';
  host?: string | null;
  /** The work unit the lease served: its draw is charged to it, and WORK_UNIT apps share by it. */
  workUnitId?: string | null;
  /** Stretches during which the holder reported no user activity, inside the lease. */
  idle?: { startedAt: Date; endedAt: Date }[];
}

export interface ImportedDenial {
  appId: string;
  principalId: string;
  at: Date;
  /** Default POOL_EXHAUSTED. */
  reason?: DenialReason;
  /** Default: the app's cost. */
  requested?: number;
}

export interface ValidLease extends PastLease {
  state: 'RELEASED' | 'EXPIRED';
  team: string | null;
  idle: { start: number; end: number }[];
}

export interface ValidDenial {
  appId: string;
  principalId: string;
  team: string | null;
  at: number;
  reason: DenialReason;
  requested: number;
}

export interface Catalog {
  apps: Map<string, CatalogAppEntity>;
  principals: Map<string, PrincipalEntity>;
  workUnits: Set<string>;
  now: number;
}

const REASONS: DenialReason[] = ['POOL_EXHAUSTED', 'GROUP_LIMIT_REACHED', 'QUEUE_TIMEOUT'];

function time(value: Date, field: string, now: number): number {
  const t = value instanceof Date ? value.getTime() : NaN;
  if (Number.isNaN(t)) throw AppError.badInput(field, `${field} must be a date-time`);
  if (t > now) throw AppError.badInput(field, `${field} must be in the past: live usage goes through check-out`);
  return t;
}

function appOf(catalog: Catalog, id: string, field: string): CatalogAppEntity {
  const app = catalog.apps.get(id);
  if (!app) throw new AppError('NOT_FOUND', `No app with id ${id} in this pool`, { field });
  return app;
}

function principalOf(catalog: Catalog, id: string, field: string): PrincipalEntity {
  const principal = catalog.principals.get(id);
  if (!principal) throw new AppError('NOT_FOUND', `No principal with id ${id} in your organization`, { field });
  return principal;
}

/** Checks past leases as check-out would (the app is the pool's, the principal the organization's), plus that they lie in the past. */
export function validLeases(leases: ImportedLease[], catalog: Catalog): ValidLease[] {
  return leases.map((l, i) => {
    const field = `leases[${i}]`;
    const app = appOf(catalog, l.appId, `${field}.appId`);
    const principal = principalOf(catalog, l.principalId, `${field}.principalId`);
    const start = time(l.acquiredAt, `${field}.acquiredAt`, catalog.now);
    const end = time(l.endedAt, `${field}.endedAt`, catalog.now);
    const workUnitId = l.workUnitId ?? null;
    if (workUnitId !== null && !catalog.workUnits.has(workUnitId))
      throw new AppError('NOT_FOUND', `No work unit with id ${workUnitId} in your organization`, { field: `${field}.workUnitId` });
    if (end <= start) throw AppError.badInput(`${field}.endedAt`, `${field}.endedAt must be after acquiredAt`);
    if (l.state !== undefined && l.state !== 'RELEASED' && l.state !== 'EXPIRED')
      throw AppError.badInput(`${field}.state`, `${field}.state must be RELEASED or EXPIRED`);
    const idle = (l.idle ?? []).map((span, k) => {
      const s = time(span.startedAt, `${field}.idle[${k}].startedAt`, catalog.now);
      const e = time(span.endedAt, `${field}.idle[${k}].endedAt`, catalog.now);
      if (s < start || e > end || e <= s) throw AppError.badInput(`${field}.idle[${k}]`, 'An idle interval must lie inside its lease and end after it starts');
      return { start: s, end: e };
    });
    return {
      appId: app.id,
      principalId: principal.id,
      team: principal.team,
      host: optionalText(l.host, `${field}.host`, { max: 255 }),
      workUnitId,
      start,
      end,
      state: l.state ?? 'RELEASED',
      shareScope: app.shareScope,
      lingerSeconds: app.lingerSeconds,
      cost: app.cost,
      idle,
    };
  });
}

export function validDenials(denials: ImportedDenial[], catalog: Catalog): ValidDenial[] {
  return denials.map((d, i) => {
    const field = `denials[${i}]`;
    const app = appOf(catalog, d.appId, `${field}.appId`);
    const principal = principalOf(catalog, d.principalId, `${field}.principalId`);
    const reason = d.reason ?? 'POOL_EXHAUSTED';
    if (!REASONS.includes(reason)) throw AppError.badInput(`${field}.reason`, `${field}.reason must be one of ${REASONS.join(', ')}`);
    const requested = d.requested === undefined ? app.cost : requireInt(d.requested, `${field}.requested`, { min: 1, max: 1_000_000 });
    return { appId: app.id, principalId: principal.id, team: principal.team, at: time(d.at, `${field}.at`, catalog.now), reason, requested };
  });
}

/**
 * Past caps: only before the pool's first recorded cap (its history before tokenpool), so
 * an import never rewrites the cap the pool has had since.
 */
export function validCapChanges(changes: { at: Date; cap: number }[], firstRecorded: number | null, now: number): CapChange[] {
  return changes
    .map((c, i) => {
      const at = time(c.at, `capChanges[${i}].at`, now);
      if (firstRecorded !== null && at >= firstRecorded)
        throw AppError.badInput(
          `capChanges[${i}].at`,
          `capChanges[${i}].at must be before the pool's first recorded cap (${new Date(firstRecorded).toISOString()})`,
        );
      return { at, cap: requireInt(c.cap, `capChanges[${i}].cap`, { min: 0, max: 1_000_000_000 }) };
    })
    .sort((a, b) => a.at - b.at);
}
