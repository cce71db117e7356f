import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, In } from 'typeorm';
import { AppsService } from '../apps/apps.service';
import { AppError } from '../common/errors/app-error';
import { isUuid } from '../common/validation/validate';
import { APP_CONFIG, AppConfig } from '../config/env';
import { LeaseDrawsService } from '../leases/lease-draws.service';
import { PoolEntity } from '../pools/pool.entity';
import { MIN_LEASE_SECONDS, PoolsService } from '../pools/pools.service';
import { PrincipalEntity } from '../principals/principal.entity';
import { UsageRollupsService } from '../reports/usage-rollups.service';
import { WorkUnitsService } from '../work-units/work-units.service';
import { UsageSourceService } from '../reports/usage-source.service';
import { CapChange } from '../reports/usage-math';
import { checkCap, groupDraws, PastDraw } from './history-draws';
import { Catalog, ImportedDenial, ImportedLease, validCapChanges, validDenials, ValidDenial, validLeases, ValidLease } from './history-validation';

export type { ImportedDenial, ImportedLease } from './history-validation';

const MAX_ROWS = 200_000;
const BATCH = 5000;
/** Imported leases were granted by no API key: they carry this one, which no key has. */
export const IMPORTED_API_KEY_ID = '00000000-0000-0000-0000-000000000000';

export interface HistoryImportInput {
  organizationId: string;
  poolId: string;
  /** Caps in force before the pool's first recorded cap (default: that first cap all along). */
  capChanges?: { at: Date; cap: number }[];
  leases?: ImportedLease[];
  denials?: ImportedDenial[];
}

export interface HistoryImportResult {
  importId: string;
  leases: number;
  draws: number;
  denials: number;
  capChanges: number;
  from: Date;
  to: Date;
}

/**
 * Writes a pool's past usage (live leases only ever use Redis's clock, so history cannot go
 * through check-out) with the checks and bookkeeping of live traffic: apps of the pool,
 * principals of the organization, the app's cost and share scope, the cap in force at each
 * opening, idle intervals, denials; every ended draw recorded through LeaseDrawsService (the
 * one path to `lease_draws` and the license ledger); then the rollups of the range refreshed.
 * All or nothing: one bad row refuses the whole import with its path in `extensions.field`.
 */
@Injectable()
export class HistoryImportService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly pools: PoolsService,
    private readonly apps: AppsService,
    private readonly workUnits: WorkUnitsService,
    private readonly draws: LeaseDrawsService,
    private readonly source: UsageSourceService,
    private readonly rollups: UsageRollupsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async import(input: HistoryImportInput): Promise<HistoryImportResult> {
    const pool = await this.pools.getInOrganization(input.organizationId, input.poolId, 'poolId');
    const now = Date.now();
    for (const list of ['leases', 'denials', 'capChanges'] as const) {
      if ((input[list]?.length ?? 0) > MAX_ROWS) throw AppError.badInput(list, `At most ${MAX_ROWS} ${list} per import`);
    }
    const catalog = await this.catalog(pool, input, now);
    const leases = validLeases(input.leases ?? [], catalog);
    const denials = validDenials(input.denials ?? [], catalog);
    if (leases.length + denials.length + (input.capChanges?.length ?? 0) === 0) throw AppError.badInput('leases', 'Nothing to import');
    const draws = groupDraws(leases);
    const held = draws.find((d) => d.end > now);
    if (held)
      throw AppError.badInput(
        `leases[${held.opener}].endedAt`,
        `The draw this lease opened is still held (linger) until ${new Date(held.end).toISOString()}: import it after that`,
      );
    const result = await this.dataSource.transaction((manager) =>
      this.write(manager, { pool, leases, denials, draws, capChanges: input.capChanges ?? [], now }),
    );
    await this.rollups.refresh(pool, {
      from: result.from.getTime() - this.config.falseDenialSeconds * 1000,
      to: result.to.getTime(),
      longestSeconds: draws.reduce((m, d) => Math.max(m, (d.end - d.start) / 1000), 0),
    });
    return result;
  }

  private async catalog(pool: PoolEntity, input: HistoryImportInput, now: number): Promise<Catalog> {
    const ids = [...new Set([...(input.leases ?? []), ...(input.denials ?? [])].map((r) => r.principalId))].filter(
      (id) => typeof id === 'string' && isUuid(id),
    );
    const principals = ids.length === 0 ? [] : await this.dataSource.manager.findBy(PrincipalEntity, { organizationId: pool.organizationId, id: In(ids) });
    const workUnitIds = (input.leases ?? []).map((l) => l.workUnitId).filter((id): id is string => typeof id === 'string');
    return {
      apps: new Map((await this.apps.listByPool(pool.id)).map((a) => [a.id, a])),
      principals: new Map(principals.map((p) => [p.id, p])),
      workUnits: workUnitIds.length === 0 ? new Set() : await this.workUnits.existing(pool.organizationId, workUnitIds),
      now,
    };
  }

  /** Everything in one transaction, under the pool's import lock, so two imports never both fit under the cap alone. */
  private async write(
    manager: EntityManager,
    q: { pool: PoolEntity; leases: ValidLease[]; denials: ValidDenial[]; draws: PastDraw[]; capChanges: { at: Date; cap: number }[]; now: number },
  ): Promise<HistoryImportResult> {
    const { pool } = q;
    await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('history-import:' || $1, 0))`, [pool.id]);
    const recorded = await this.source.capChanges(pool.id, manager);
    const capChanges = validCapChanges(q.capChanges, recorded[0]?.at ?? null, q.now);
    // Reduced, not spread: an import may hold more rows than a call may take arguments.
    const starts = [q.leases.map((l) => l.start), q.denials.map((d) => d.at), capChanges.map((c) => c.at)].flat();
    const ends = [q.draws.map((d) => d.end), q.denials.map((d) => d.at + 1), capChanges.map((c) => c.at + 1)].flat();
    const from = starts.reduce((m, t) => Math.min(m, t), Infinity);
    const to = ends.reduce((m, t) => Math.max(m, t), -Infinity);
    const available = await this.checkCap(manager, { pool, draws: q.draws, denials: q.denials, changes: [...capChanges, ...recorded], from, to, now: q.now });
    const tokens = await this.fencingTokens(manager, pool.id, q.leases.length);
    await this.insertCapChanges(manager, pool, capChanges);
    const leaseIds = await this.insertLeases(manager, { pool, leases: q.leases, draws: q.draws, tokens });
    await this.insertDenials(manager, pool, q.denials, available);
    for (const d of q.draws) {
      const drawId = leaseIds.drawIds[d.opener];
      await this.draws.record(
        {
          drawId,
          appId: d.appId,
          openerLeaseId: leaseIds.ids[d.opener],
          cost: d.credits,
          openedAt: new Date(d.start),
          endedAt: new Date(d.end),
          source: 'imported',
        },
        manager,
      );
    }
    const [row]: { id: string }[] = await manager.query(
      `INSERT INTO history_imports (organization_id, pool_id, range_from, range_to, leases, draws, denials, cap_changes, first_fencing_token, last_fencing_token)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
      [
        pool.organizationId,
        pool.id,
        new Date(from),
        new Date(to),
        q.leases.length,
        q.draws.length,
        q.denials.length,
        capChanges.length,
        tokens.first,
        tokens.last,
      ],
    );
    return {
      importId: row.id,
      leases: q.leases.length,
      draws: q.draws.length,
      denials: q.denials.length,
      capChanges: capChanges.length,
      from: new Date(from),
      to: new Date(to),
    };
  }

  /** Refuses the import if a draw would have opened above the cap; returns the credits free at each denial. */
  private async checkCap(
    manager: EntityManager,
    q: { pool: PoolEntity; draws: PastDraw[]; denials: ValidDenial[]; changes: CapChange[]; from: number; to: number; now: number },
  ): Promise<number[]> {
    const unrecorded = await this.source.unrecordedDraws({ organizationId: q.pool.organizationId, poolId: q.pool.id, now: q.now }, manager);
    const bounds = this.rollups.bounds(await this.rollups.cursor(q.pool.id), q.now);
    const existing = await this.source.draws({ poolId: q.pool.id, from: q.from, to: q.to, now: q.now, bounds, unrecorded, withIdle: false }, manager);
    const changes = [...q.changes].sort((a, b) => a.at - b.at);
    const check = checkCap({ existing, added: q.draws, changes, fallbackCap: q.pool.cap, instants: q.denials.map((d) => d.at) });
    if (check.violation) {
      const { draw, at, level, cap } = check.violation;
      throw AppError.badInput(
        `leases[${q.draws[draw].opener}]`,
        `This lease would have held ${level} credits in the pool at ${new Date(at).toISOString()}, over the cap of ${cap} then`,
      );
    }
    return check.available;
  }

  /** Synthetic tokens below every live one (live tokens are positive) and every earlier import's. */
  private async fencingTokens(manager: EntityManager, poolId: string, count: number): Promise<{ first: string | null; last: string | null; base: bigint }> {
    const rows: { low: string }[] = await manager.query('SELECT coalesce(min(last_fencing_token), 0)::text AS low FROM history_imports WHERE pool_id = $1', [
      poolId,
    ]);
    const base = BigInt(rows[0].low);
    if (count === 0) return { first: null, last: null, base };
    return { first: String(base - 1n), last: String(base - BigInt(count)), base };
  }

  private async insertCapChanges(manager: EntityManager, pool: PoolEntity, changes: CapChange[]): Promise<void> {
    if (changes.length === 0) return;
    await manager.query(
      `INSERT INTO pool_cap_changes (organization_id, pool_id, cap, at) SELECT $1, $2, u.cap, u.at FROM unnest($3::int[], $4::timestamptz[]) AS u(cap, at)`,
      [pool.organizationId, pool.id, changes.map((c) => c.cap), changes.map((c) => new Date(c.at))],
    );
  }

  /** Writes the leases (tokens rising with their start) and their idle intervals; returns each lease's id and draw id. */
  private async insertLeases(
    manager: EntityManager,
    q: { pool: PoolEntity; leases: ValidLease[]; draws: PastDraw[]; tokens: { base: bigint } },
  ): Promise<{ ids: string[]; drawIds: string[] }> {
    const ids = q.leases.map(() => randomUUID());
    const drawIds: string[] = new Array(q.leases.length);
    const credits: number[] = new Array(q.leases.length).fill(0);
    for (const d of q.draws) {
      const drawId = randomUUID();
      for (const i of d.leases) drawIds[i] = drawId;
      credits[d.opener] = d.credits;
    }
    const order = q.leases.map((_, i) => i).sort((a, b) => q.leases[a].start - q.leases[b].start || a - b);
    const token = new Array<string>(q.leases.length);
    order.forEach((i, k) => (token[i] = String(q.tokens.base - BigInt(q.leases.length) + BigInt(k))));
    for (let at = 0; at < q.leases.length; at += BATCH) {
      const batch = q.leases.slice(at, at + BATCH).map((l, k) => ({ l, i: at + k }));
      const col = <T>(f: (row: { l: ValidLease; i: number }) => T) => batch.map(f);
      await manager.query(
        `INSERT INTO leases (id, organization_id, pool_id, app_id, principal_id, requested_by_principal_id, api_key_id, work_unit_id, team, host, draw_id,
                             credits, lease_seconds, fencing_token, epoch, state, acquired_at, expires_at, ended_at, credit_seconds, end_reason)
         SELECT u.id, $1, $2, u.app_id, u.principal_id, u.principal_id, $3, u.work_unit_id, u.team, u.host, u.draw_id, u.credits, u.lease_seconds, u.token, 0,
                u.state, u.s, u.e, u.e, u.credits * extract(epoch FROM (u.e - u.s)), 'imported'
         FROM unnest($4::uuid[], $5::uuid[], $6::uuid[], $7::text[], $8::text[], $9::uuid[], $10::int[], $11::int[], $12::bigint[], $13::text[], $14::timestamptz[],
                     $15::timestamptz[], $16::uuid[])
              AS u(id, app_id, principal_id, team, host, draw_id, credits, lease_seconds, token, state, s, e, work_unit_id)`,
        [
          q.pool.organizationId,
          q.pool.id,
          IMPORTED_API_KEY_ID,
          col((r) => ids[r.i]),
          col((r) => r.l.appId),
          col((r) => r.l.principalId),
          col((r) => r.l.team),
          col((r) => r.l.host),
          col((r) => drawIds[r.i]),
          col((r) => credits[r.i]),
          col((r) => Math.max(MIN_LEASE_SECONDS, Math.min(q.pool.maxLeaseSeconds, Math.ceil((r.l.end - r.l.start) / 1000)))),
          col((r) => token[r.i]),
          col((r) => r.l.state),
          col((r) => new Date(r.l.start)),
          col((r) => new Date(r.l.end)),
          col((r) => r.l.workUnitId),
        ],
      );
    }
    const idle = q.leases.flatMap((l, i) => l.idle.map((span) => ({ lease: ids[i], ...span })));
    for (let at = 0; at < idle.length; at += BATCH) {
      const batch = idle.slice(at, at + BATCH);
      await manager.query(
        `INSERT INTO lease_idle_intervals (organization_id, pool_id, lease_id, started_at, ended_at)
         SELECT $1, $2, u.l, u.s, u.e FROM unnest($3::uuid[], $4::timestamptz[], $5::timestamptz[]) AS u(l, s, e)`,
        [q.pool.organizationId, q.pool.id, batch.map((b) => b.lease), batch.map((b) => new Date(b.start)), batch.map((b) => new Date(b.end))],
      );
    }
    return { ids, drawIds };
  }

  private async insertDenials(manager: EntityManager, pool: PoolEntity, denials: ValidDenial[], available: number[]): Promise<void> {
    for (let at = 0; at < denials.length; at += BATCH) {
      const batch = denials.slice(at, at + BATCH);
      await manager.query(
        `INSERT INTO denials (organization_id, pool_id, app_id, principal_id, team, requested, available, reason, at)
         SELECT $1, $2, u.app_id, u.principal_id, u.team, u.requested, u.available, u.reason, u.at
         FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::int[], $7::int[], $8::text[], $9::timestamptz[]) AS u(app_id, principal_id, team, requested, available, reason, at)`,
        [
          pool.organizationId,
          pool.id,
          batch.map((d) => d.appId),
          batch.map((d) => d.principalId),
          batch.map((d) => d.team),
          batch.map((d) => d.requested),
          batch.map((_, k) => available[at + k]),
          batch.map((d) => d.reason),
          batch.map((d) => new Date(d.at)),
        ],
      );
    }
  }
}
