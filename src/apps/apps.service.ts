import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import { In, Repository } from 'typeorm';
import { AuditActor as Actor, AuditService } from '../audit/audit.service';
import { AppError } from '../common/errors/app-error';
import { isUuid, optionalText, requireInt, requireText } from '../common/validation/validate';
import { PoolsService } from '../pools/pools.service';
import { CatalogAppEntity, ShareScope } from './catalog-app.entity';
import { CreateAppInput } from './dto/create-app.input';
import { UpdateAppInput } from './dto/update-app.input';

const KEY = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const MAX_COST = 1_000_000;
const MAX_TIME_SECONDS = 86_400;

/**
 * The catalog of apps. PostgreSQL is the record; a change raises its pool's configVersion in
 * the same transaction and is announced through PoolsService, whose listener (the leases
 * feature's pool mirror) writes it into Redis before the request answers.
 */
@Injectable()
export class AppsService {
  // Key -> app for the check-out path, a second at most; costs and scopes the scripts use
  // come from the Redis mirror, never from here.
  private readonly byKey = new LRUCache<string, CatalogAppEntity>({ max: 50_000, ttl: 1000 });

  constructor(
    @InjectRepository(CatalogAppEntity) private readonly apps: Repository<CatalogAppEntity>,
    private readonly pools: PoolsService,
    private readonly audit: AuditService,
  ) {}

  async create(actor: Actor, input: CreateAppInput): Promise<CatalogAppEntity> {
    const pool = await this.pools.getInOrganization(actor.organizationId, input.poolId, 'input.poolId');
    const key = input.key.trim();
    if (!KEY.test(key))
      throw AppError.badInput('input.key', 'input.key must be 1 to 64 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit');
    const values = {
      key,
      name: requireText(input.name, 'input.name', { max: 200 }),
      vendor: optionalText(input.vendor, 'input.vendor', { max: 200 }),
      ...this.rules(input, { cost: input.cost, shareScope: 'NONE', lingerSeconds: 0, minimumChargeSeconds: 0 }),
      externalNames: externalNames(input.externalNames ?? []),
    };
    const app = await this.apps.manager.transaction(async (manager) => {
      if (await manager.existsBy(CatalogAppEntity, { organizationId: actor.organizationId, key })) {
        throw AppError.badInput('input.key', `An app with key "${key}" exists already in your organization`);
      }
      const created = await manager.save(
        CatalogAppEntity,
        manager.create(CatalogAppEntity, { ...values, organizationId: actor.organizationId, poolId: pool.id }),
      );
      await this.pools.raiseConfigVersion(manager, pool.id);
      await this.audit.record(manager, { ...actor, action: 'createApp', objectId: created.id, before: null, after: { poolId: pool.id, ...values } });
      return created;
    });
    await this.pools.announceConfigChange({ poolId: app.poolId });
    return app;
  }

  async update(actor: Actor, id: string, input: UpdateAppInput): Promise<CatalogAppEntity> {
    const app = await this.apps.manager.transaction(async (manager) => {
      const current = isUuid(id)
        ? await manager.findOne(CatalogAppEntity, { where: { id, organizationId: actor.organizationId }, lock: { mode: 'pessimistic_write' } })
        : null;
      if (!current) throw new AppError('NOT_FOUND', `No app with id ${id} in your organization`, { field: 'id' });
      const before = this.describe(current);
      Object.assign(current, {
        name: input.name === undefined || input.name === null ? current.name : requireText(input.name, 'input.name', { max: 200 }),
        vendor: input.vendor === undefined ? current.vendor : optionalText(input.vendor, 'input.vendor', { max: 200 }),
        ...this.rules(input, current),
        externalNames: input.externalNames == null ? current.externalNames : externalNames(input.externalNames),
      });
      const saved = await manager.save(CatalogAppEntity, current);
      await this.pools.raiseConfigVersion(manager, saved.poolId);
      await this.audit.record(manager, { ...actor, action: 'updateApp', objectId: saved.id, before, after: this.describe(saved) });
      return saved;
    });
    await this.pools.announceConfigChange({ poolId: app.poolId });
    return app;
  }

  async listByPool(poolId: string): Promise<CatalogAppEntity[]> {
    return this.apps.find({ where: { poolId }, order: { key: 'ASC' } });
  }

  async findInOrganization(organizationId: string, id: string): Promise<CatalogAppEntity | null> {
    if (!isUuid(id)) return null;
    return this.apps.findOneBy({ id, organizationId });
  }

  /** The apps of the organization among these ids, in one query; others' and malformed ids are left out. */
  async findManyInOrganization(organizationId: string, ids: string[]): Promise<CatalogAppEntity[]> {
    const valid = ids.filter(isUuid);
    return valid.length === 0 ? [] : this.apps.findBy({ organizationId, id: In(valid) });
  }

  /** The app a client names by key in a pool; NOT_FOUND when it is not in that pool. */
  async getByKey(organizationId: string, poolId: string, key: string, field = 'input.app'): Promise<CatalogAppEntity> {
    const cacheKey = `${organizationId}|${key}`;
    let app = this.byKey.get(cacheKey) ?? null;
    if (!app && key.length <= 64) {
      app = await this.apps.findOneBy({ organizationId, key });
      if (app) this.byKey.set(cacheKey, app);
    }
    if (!app || app.poolId !== poolId) throw new AppError('NOT_FOUND', `No app "${key.slice(0, 64)}" in this pool`, { field });
    return app;
  }

  private rules(
    input: { cost?: number | null; shareScope?: ShareScope | null; lingerSeconds?: number | null; minimumChargeSeconds?: number | null },
    current: { cost: number; shareScope: ShareScope; lingerSeconds: number; minimumChargeSeconds: number },
  ) {
    return {
      cost: requireInt(input.cost ?? current.cost, 'input.cost', { min: 1, max: MAX_COST }),
      shareScope: input.shareScope ?? current.shareScope,
      lingerSeconds: requireInt(input.lingerSeconds ?? current.lingerSeconds, 'input.lingerSeconds', { min: 0, max: MAX_TIME_SECONDS }),
      minimumChargeSeconds: requireInt(input.minimumChargeSeconds ?? current.minimumChargeSeconds, 'input.minimumChargeSeconds', {
        min: 0,
        max: MAX_TIME_SECONDS,
      }),
    };
  }

  private describe(app: CatalogAppEntity) {
    const { key, name, vendor, cost, shareScope, lingerSeconds, minimumChargeSeconds, externalNames } = app;
    return { key, name, vendor, cost, shareScope, lingerSeconds, minimumChargeSeconds, externalNames };
  }
}

const MAX_EXTERNAL_NAMES = 50;

/** External feature names, checked: up to 50, each 1 to 200 printable characters, no duplicates (kept as given: they match exactly). */
function externalNames(names: string[]): string[] {
  if (names.length > MAX_EXTERNAL_NAMES) throw AppError.badInput('input.externalNames', `At most ${MAX_EXTERNAL_NAMES} external names per app`);
  const seen = new Set<string>();
  names.forEach((name, i) => {
    // eslint-disable-next-line no-control-regex
    if (name.length < 1 || name.length > 200 || /[\u0000-\u001f\u007f]/.test(name)) {
      throw AppError.badInput(`input.externalNames.${i}`, 'Each external name must be 1 to 200 characters, with no control characters');
    }
    if (seen.has(name)) throw AppError.badInput(`input.externalNames.${i}`, `"${name}" is named twice`);
    seen.add(name);
  });
  return names;
}
