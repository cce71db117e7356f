import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import { DataSource } from 'typeorm';
import type { AuthContext } from '../auth/auth-context';
import { AppError } from '../common/errors/app-error';
import { isUuid, optionalText, pageSize, requireText, requireValidDate } from '../common/validation/validate';
import { WorkUnitFilter, WorkUnitInput } from './dto/work-unit.inputs';
import { mayChangeAnyWorkUnit, notYourWorkUnit } from './work-unit-access';
import { WorkUnit } from './work-unit.model';

export interface WorkUnitPage {
  organizationId: string;
  filter?: WorkUnitFilter | null;
  first?: number | null;
  after?: string | null;
}

// A work unit with its totals (zero until its first ledger row).
const SELECT_WITH_TOTALS = `
  SELECT w.*,
         coalesce(t.license_credit_seconds, 0) AS t_license_credit_seconds,
         coalesce(t.license_idle_credit_seconds, 0) AS t_license_idle_credit_seconds,
         coalesce(t.compute_input_tokens, 0) AS t_compute_input_tokens,
         coalesce(t.compute_cached_input_tokens, 0) AS t_compute_cached_input_tokens,
         coalesce(t.compute_output_tokens, 0) AS t_compute_output_tokens,
         coalesce(t.compute_reasoning_tokens, 0) AS t_compute_reasoning_tokens,
         coalesce(t.license_cost, 0) AS t_license_cost,
         coalesce(t.compute_cost, 0) AS t_compute_cost
  FROM work_units w LEFT JOIN work_unit_totals t ON t.work_unit_id = w.id`;

// The WHERE is mayChangeWorkUnit (work-unit-access.ts; $9 is mayChangeAnyWorkUnit), decided on
// the row ON CONFLICT has locked: a work unit another principal created is changed only when its
// owner, team and process stay as they are; otherwise no row returns and nothing is written.
const UPSERT = `
  INSERT INTO work_units (organization_id, external_ref, owner, team, process, task, org_unit_kind, created_by_principal_id)
  VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, (SELECT org_unit_kind FROM principals WHERE id = $8 AND organization_id = $1)), $8)
  ON CONFLICT (organization_id, external_ref) DO UPDATE SET
    owner = coalesce(excluded.owner, work_units.owner),
    team = coalesce(excluded.team, work_units.team),
    process = coalesce(excluded.process, work_units.process),
    task = coalesce(excluded.task, work_units.task),
    org_unit_kind = coalesce($7, work_units.org_unit_kind),
    updated_at = now()
  WHERE $9 OR work_units.created_by_principal_id = $8
     OR ((excluded.owner IS NULL OR excluded.owner = work_units.owner)
         AND (excluded.team IS NULL OR excluded.team = work_units.team)
         AND (excluded.process IS NULL OR excluded.process = work_units.process))
  RETURNING id`;

// Creates the work units named by external refs that do not exist yet; returns every ref's
// id. The first SELECT's snapshot misses rows a concurrent request committed meanwhile: the
// caller asks again for those.
const ENSURE_REFS = `
  WITH created AS (
    INSERT INTO work_units (organization_id, external_ref, org_unit_kind, created_by_principal_id)
    SELECT $1, ref, (SELECT org_unit_kind FROM principals WHERE id = $2 AND organization_id = $1), $2 FROM unnest($3::text[]) AS ref
    ON CONFLICT (organization_id, external_ref) DO NOTHING
    RETURNING id, external_ref
  )
  SELECT id, external_ref FROM created
  UNION ALL
  SELECT id, external_ref FROM work_units WHERE organization_id = $1 AND external_ref = ANY($3::text[])`;

type Row = Record<string, unknown>;

function toWorkUnit(row: Row): WorkUnit {
  const num = (v: unknown) => Number(v);
  const nullableNum = (v: unknown) => (v === null ? null : Number(v));
  const licenseCost = num(row.t_license_cost);
  const computeCost = num(row.t_compute_cost);
  return {
    id: row.id as string,
    organizationId: row.organization_id as string,
    externalRef: row.external_ref as string,
    owner: row.owner as string | null,
    team: row.team as string | null,
    process: row.process as string | null,
    task: row.task as string | null,
    orgUnitKind: row.org_unit_kind as WorkUnit['orgUnitKind'],
    outcome: row.outcome as WorkUnit['outcome'],
    qualityResult: row.quality_result as string | null,
    humanReviewed: row.human_reviewed as boolean | null,
    decision: row.decision as string | null,
    valueDimension: row.value_dimension as WorkUnit['valueDimension'],
    valueAmount: nullableNum(row.value_amount),
    evidenceConfidence: nullableNum(row.evidence_confidence),
    licenseCreditHours: num(row.t_license_credit_seconds) / 3600,
    licenseIdleCreditHours: num(row.t_license_idle_credit_seconds) / 3600,
    computeInputTokens: num(row.t_compute_input_tokens),
    computeCachedInputTokens: num(row.t_compute_cached_input_tokens),
    computeOutputTokens: num(row.t_compute_output_tokens),
    computeReasoningTokens: num(row.t_compute_reasoning_tokens),
    licenseCost,
    computeCost,
    totalCost: licenseCost + computeCost,
    createdAt: row.created_at as Date,
    outcomeRecordedAt: row.outcome_recorded_at as Date | null,
  };
}

/**
 * Work units: created or changed by externalRef, read with their ledger totals (kept by the
 * ledger's trigger in work_unit_totals, so reads never sum raw rows). Work units are never
 * deleted, which lets the id and external-ref lookups of the ingest paths be cached.
 */
@Injectable()
export class WorkUnitsService {
  private readonly knownIds = new LRUCache<string, true>({ max: 100_000 });
  private readonly idsByRef = new LRUCache<string, string>({ max: 100_000 });

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** FORBIDDEN when a CLIENT would change the owner, team or process of a work unit another principal created. */
  async upsert(auth: AuthContext, input: WorkUnitInput): Promise<WorkUnit> {
    const externalRef = requireText(input.externalRef, 'input.externalRef', { max: 255 });
    const rows: { id: string }[] = await this.dataSource.query(UPSERT, [
      auth.organizationId,
      externalRef,
      optionalText(input.owner, 'input.owner', { max: 255 }),
      optionalText(input.team, 'input.team', { max: 100 }),
      optionalText(input.process, 'input.process', { max: 255 }),
      optionalText(input.task, 'input.task', { max: 255 }),
      input.orgUnitKind ?? null,
      auth.principalId,
      mayChangeAnyWorkUnit(auth),
    ]);
    if (rows.length === 0) throw notYourWorkUnit(externalRef, 'input.externalRef');
    return (await this.findInOrganization(auth.organizationId, rows[0].id))!;
  }

  /** A work unit of the organization with its totals, or null (another organization's ids included). */
  async findInOrganization(organizationId: string, id: string): Promise<WorkUnit | null> {
    if (!isUuid(id)) return null;
    const rows: Row[] = await this.dataSource.query(`${SELECT_WITH_TOTALS} WHERE w.id = $1 AND w.organization_id = $2`, [id, organizationId]);
    return rows.length === 0 ? null : toWorkUnit(rows[0]);
  }

  /** The work units of the organization among these ids, with their totals, in one query; others' and malformed ids are left out. */
  async findManyInOrganization(organizationId: string, ids: string[]): Promise<WorkUnit[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    const rows: Row[] = await this.dataSource.query(`${SELECT_WITH_TOTALS} WHERE w.organization_id = $1 AND w.id = ANY($2::uuid[])`, [organizationId, valid]);
    return rows.map(toWorkUnit);
  }

  /** As findInOrganization, for mutations: NOT_FOUND (naming `field`) when the id is not the caller's. */
  async getInOrganization(organizationId: string, id: string, field = 'workUnitId'): Promise<WorkUnit> {
    const unit = await this.findInOrganization(organizationId, id);
    if (!unit) throw new AppError('NOT_FOUND', `No work unit with id ${id} in your organization`, { field });
    return unit;
  }

  /** Newest first; `after` is the id of the last work unit of the previous page. */
  async list(page: WorkUnitPage): Promise<WorkUnit[]> {
    const first = pageSize(page.first);
    const filter = page.filter ?? {};
    const where = ['w.organization_id = $1'];
    const params: unknown[] = [page.organizationId];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (filter.process != null) add('w.process = ?', requireText(filter.process, 'filter.process', { max: 255 }));
    if (filter.team != null) add('w.team = ?', requireText(filter.team, 'filter.team', { max: 100 }));
    if (filter.outcome != null) add('w.outcome = ?', filter.outcome);
    if (filter.from != null) add('w.created_at >= ?', requireValidDate(filter.from, 'filter.from'));
    if (filter.to != null) add('w.created_at < ?', requireValidDate(filter.to, 'filter.to'));
    if (page.after != null) {
      if (!isUuid(page.after)) throw AppError.badInput('after', 'after must be the id of the last work unit of the previous page');
      add('(w.created_at, w.id) < (SELECT a.created_at, a.id FROM work_units a WHERE a.id = ? AND a.organization_id = $1)', page.after);
    }
    params.push(first);
    const rows: Row[] = await this.dataSource.query(
      `${SELECT_WITH_TOTALS} WHERE ${where.join(' AND ')} ORDER BY w.created_at DESC, w.id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toWorkUnit);
  }

  /** Which of these ids are work units of the organization (malformed ids are simply not). */
  async existing(organizationId: string, ids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    const unknown: string[] = [];
    for (const id of new Set(ids)) {
      if (this.knownIds.has(`${organizationId}:${id}`)) found.add(id);
      else if (isUuid(id)) unknown.push(id);
    }
    if (unknown.length > 0) {
      const rows: { id: string }[] = await this.dataSource.query('SELECT id FROM work_units WHERE organization_id = $1 AND id = ANY($2::uuid[])', [
        organizationId,
        unknown,
      ]);
      for (const { id } of rows) {
        found.add(id);
        this.knownIds.set(`${organizationId}:${id}`, true);
      }
    }
    return found;
  }

  /**
   * The ids of the work units these external refs name, created on first sight with the
   * caller's org unit kind (for OTLP spans that name their work unit by externalRef).
   */
  async idsForExternalRefs(auth: Pick<AuthContext, 'organizationId' | 'principalId'>, refs: string[]): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    let missing: string[] = [];
    for (const ref of new Set(refs)) {
      const id = this.idsByRef.get(`${auth.organizationId}:${ref}`);
      if (id) ids.set(ref, id);
      else missing.push(ref);
    }
    for (let attempt = 0; missing.length > 0 && attempt < 3; attempt++) {
      const rows: { id: string; external_ref: string }[] = await this.dataSource.query(ENSURE_REFS, [auth.organizationId, auth.principalId, missing]);
      for (const row of rows) {
        ids.set(row.external_ref, row.id);
        this.idsByRef.set(`${auth.organizationId}:${row.external_ref}`, row.id);
      }
      missing = missing.filter((ref) => !ids.has(ref));
    }
    return ids;
  }
}
