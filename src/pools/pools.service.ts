import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import { EntityManager, In, Repository } from 'typeorm';
import { AuditActor as Actor, AuditService } from '../audit/audit.service';
import { AppError } from '../common/errors/app-error';
import { isUuid, requireInt, requireNumber, requireText } from '../common/validation/validate';
import { LeaseStore } from '../lease-engine/lease-store';
import { CreatePoolInput, GroupLimitInput, UpdatePoolInput } from './dto/pool.inputs';
import { GroupLimitEntity } from './group-limit.entity';
import { PoolCapChangeEntity } from './pool-cap-change.entity';
import { PoolEntity } from './pool.entity';
import { PoolEventsService } from './pool-events.service';

export const MIN_LEASE_SECONDS = 5;
const MAX_LEASE_SECONDS = 7 * 86_400;
/** The longest borrow a pool may allow (30 days); the signing keys stay published this long after retiring. */
export const MAX_BORROW_HOURS = 720;
const MAX_CAP = 1_000_000_000;

/** A committed change of a pool's configuration (its cap, apps or team limits). */
export interface ConfigChange {
  poolId: string;
  /** The pool is new: Redis holds nothing of it yet. */
  created?: boolean;
}

export type ConfigListener = (change: ConfigChange) => Promise<void>;

export interface LiveFigures {
  inUse: number;
  available: number;
  activeLeases: number;
  queueLength: number;
}

/**
 * Pools and their team limits. PostgreSQL is the record; every change of a pool's
 * configuration raises its configVersion in the same transaction and is announced once
 * committed. The leases feature's pool mirror listens and writes it into Redis before the
 * announcement returns (so in the same request); this feature never writes the mirror.
 */
@Injectable()
export class PoolsService {
  private readonly configListeners: ConfigListener[] = [];
  // Check-outs name their pool on every call: keep recent rows for a second. Only the
  // lease-length bounds are read from here; the cap the scripts enforce lives in Redis.
  private readonly recent = new LRUCache<string, PoolEntity>({ max: 10_000, ttl: 1000 });

  constructor(
    @InjectRepository(PoolEntity) private readonly pools: Repository<PoolEntity>,
    private readonly audit: AuditService,
    private readonly store: LeaseStore,
    private readonly events: PoolEventsService,
  ) {}

  async create(actor: Actor, input: CreatePoolInput): Promise<PoolEntity> {
    const values = this.validated(input, { defaultLeaseSeconds: 300, maxLeaseSeconds: 3600, maxBorrowHours: 0, creditHourPrice: null });
    const pool = await this.pools.manager.transaction(async (manager) => {
      await this.assertNameFree(manager, actor.organizationId, values.name);
      const created = await manager.save(PoolEntity, manager.create(PoolEntity, { ...values, organizationId: actor.organizationId, epoch: '1' }));
      await manager.insert(PoolCapChangeEntity, { organizationId: actor.organizationId, poolId: created.id, cap: created.cap });
      await this.audit.record(manager, { ...actor, action: 'createPool', objectId: created.id, before: null, after: values });
      return created;
    });
    await this.announceConfigChange({ poolId: pool.id, created: true });
    return pool;
  }

  async update(actor: Actor, id: string, input: UpdatePoolInput): Promise<PoolEntity> {
    const { pool, before } = await this.pools.manager.transaction(async (manager) => {
      const current = await this.lockInOrganization(manager, actor.organizationId, id);
      const snapshot = this.describe(current);
      const values = this.validated(
        {
          name: input.name ?? current.name,
          cap: input.cap ?? current.cap,
          defaultLeaseSeconds: input.defaultLeaseSeconds ?? current.defaultLeaseSeconds,
          maxLeaseSeconds: input.maxLeaseSeconds ?? current.maxLeaseSeconds,
          maxBorrowHours: input.maxBorrowHours ?? current.maxBorrowHours,
          creditHourPrice: input.creditHourPrice === undefined ? current.creditHourPrice : input.creditHourPrice,
        },
        current,
      );
      if (values.name !== current.name) await this.assertNameFree(manager, actor.organizationId, values.name);
      if (values.cap !== current.cap) {
        current.configVersion = String(Number(current.configVersion) + 1);
        const reserved = await this.reservedTotal(manager, current.id);
        if (values.cap < reserved) throw AppError.badInput('input.cap', `The pool's team reservations add up to ${reserved}; the cap cannot be lower`);
        await manager.insert(PoolCapChangeEntity, { organizationId: actor.organizationId, poolId: current.id, cap: values.cap });
      }
      Object.assign(current, values);
      const saved = await manager.save(PoolEntity, current);
      await this.audit.record(manager, { ...actor, action: 'updatePool', objectId: saved.id, before: snapshot, after: this.describe(saved) });
      return { pool: saved, before: snapshot };
    });
    // This process's check-outs and borrows see the new lease and borrow bounds at once (others' within a second).
    this.recent.delete(pool.id);
    if (before.cap !== pool.cap) {
      await this.announceConfigChange({ poolId: pool.id });
      this.events.changed(pool.id);
    }
    return pool;
  }

  async list(organizationId: string): Promise<PoolEntity[]> {
    return this.pools.find({ where: { organizationId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** Every pool of every organization: for the worker's sweep, never for a request. */
  async listAll(): Promise<PoolEntity[]> {
    return this.pools.find({ order: { createdAt: 'ASC' } });
  }

  async findInOrganization(organizationId: string, id: string): Promise<PoolEntity | null> {
    if (!isUuid(id)) return null;
    return this.pools.findOneBy({ id, organizationId });
  }

  /** The pools of the organization among these ids, in one query; others' and malformed ids are left out. */
  async findManyInOrganization(organizationId: string, ids: string[]): Promise<PoolEntity[]> {
    const valid = ids.filter(isUuid);
    return valid.length === 0 ? [] : this.pools.findBy({ organizationId, id: In(valid) });
  }

  /** As getInOrganization, from a cache at most a second old (for the check-out path). */
  async getForCheckout(organizationId: string, id: string): Promise<PoolEntity> {
    const cached = this.recent.get(id);
    if (cached && cached.organizationId === organizationId) return cached;
    const pool = await this.getInOrganization(organizationId, id, 'input.poolId');
    this.recent.set(id, pool);
    return pool;
  }

  async getInOrganization(organizationId: string, id: string, field = 'poolId'): Promise<PoolEntity> {
    const pool = await this.findInOrganization(organizationId, id);
    if (!pool) throw new AppError('NOT_FOUND', `No pool with id ${id} in your organization`, { field });
    return pool;
  }

  /** inUse, available and activeLeases as Redis holds them now. */
  async live(poolId: string): Promise<LiveFigures> {
    const status = await this.store.status(poolId);
    if (status.epoch === null) throw AppError.unavailable(`Pool ${poolId} is being rebuilt; retry shortly`, 1);
    return {
      inUse: status.inUse,
      activeLeases: status.activeLeases,
      available: Math.max(0, status.cap - status.inUse - status.reservedUnused),
      queueLength: status.queued,
    };
  }

  async setGroupLimit(actor: Actor, input: GroupLimitInput): Promise<GroupLimitEntity> {
    const team = requireText(input.team, 'input.team', { max: 100 });
    const reserved = requireInt(input.reserved, 'input.reserved', { min: 0, max: MAX_CAP });
    const max = input.max === undefined || input.max === null ? null : requireInt(input.max, 'input.max', { min: 0, max: MAX_CAP });
    if (max !== null && max < reserved) throw AppError.badInput('input.max', 'input.max must be at least input.reserved');
    const limit = await this.pools.manager.transaction(async (manager) => {
      const pool = await this.lockInOrganization(manager, actor.organizationId, input.poolId, 'input.poolId');
      const existing = await manager.findOneBy(GroupLimitEntity, { poolId: pool.id, team });
      const others = (await this.reservedTotal(manager, pool.id)) - (existing?.reserved ?? 0);
      if (others + reserved > pool.cap) {
        throw AppError.badInput('input.reserved', `Reservations in pool ${pool.name} would add up to ${others + reserved}, more than its cap of ${pool.cap}`);
      }
      const saved = await manager.save(GroupLimitEntity, { poolId: pool.id, team, organizationId: actor.organizationId, reserved, max });
      await this.raiseConfigVersion(manager, pool.id);
      await this.audit.record(manager, {
        ...actor,
        action: 'setGroupLimit',
        objectId: pool.id,
        before: existing ? { team, reserved: existing.reserved, max: existing.max } : null,
        after: { team, reserved, max },
      });
      return saved;
    });
    await this.announceConfigChange({ poolId: limit.poolId });
    return limit;
  }

  /** Every pool's row by id, whatever its organization: for the pool mirror, never for a request's answer. */
  async findById(id: string): Promise<PoolEntity | null> {
    return this.pools.findOneBy({ id });
  }

  /** The pool's team limits, for the pool mirror. */
  async groupLimitsOfPool(poolId: string): Promise<GroupLimitEntity[]> {
    return this.pools.manager.find(GroupLimitEntity, { where: { poolId }, order: { team: 'ASC' } });
  }

  /** The pool mirror subscribes here; the pools and apps features never import it. */
  onConfigChange(listener: ConfigListener): void {
    this.configListeners.push(listener);
  }

  /**
   * Tells the listeners of a committed configuration change and waits for them, so the change
   * is in Redis when the request that made it answers. A listener handles its own failures.
   */
  async announceConfigChange(change: ConfigChange): Promise<void> {
    for (const listener of this.configListeners) await listener(change);
  }

  /** In the transaction of a change of the pool's apps or team limits (a cap change sets it itself). */
  async raiseConfigVersion(manager: EntityManager, poolId: string): Promise<void> {
    await manager.increment(PoolEntity, { id: poolId }, 'configVersion', 1);
  }

  async groupLimits(organizationId: string, poolId: string): Promise<GroupLimitEntity[]> {
    if (!(await this.findInOrganization(organizationId, poolId))) return [];
    return this.pools.manager.find(GroupLimitEntity, { where: { poolId, organizationId }, order: { team: 'ASC' } });
  }

  private validated(
    input: {
      name: string;
      cap: number;
      defaultLeaseSeconds?: number | null;
      maxLeaseSeconds?: number | null;
      maxBorrowHours?: number | null;
      creditHourPrice?: number | null;
    },
    defaults: { defaultLeaseSeconds: number; maxLeaseSeconds: number; maxBorrowHours: number; creditHourPrice: number | null },
  ) {
    const maxLeaseSeconds = requireInt(input.maxLeaseSeconds ?? defaults.maxLeaseSeconds, 'input.maxLeaseSeconds', {
      min: MIN_LEASE_SECONDS,
      max: MAX_LEASE_SECONDS,
    });
    const defaultLeaseSeconds = requireInt(input.defaultLeaseSeconds ?? Math.min(defaults.defaultLeaseSeconds, maxLeaseSeconds), 'input.defaultLeaseSeconds', {
      min: MIN_LEASE_SECONDS,
      max: maxLeaseSeconds,
    });
    const price = input.creditHourPrice === undefined ? defaults.creditHourPrice : input.creditHourPrice;
    return {
      name: requireText(input.name, 'input.name', { max: 200 }),
      cap: requireInt(input.cap, 'input.cap', { min: 0, max: MAX_CAP }),
      defaultLeaseSeconds,
      maxLeaseSeconds,
      maxBorrowHours: requireInt(input.maxBorrowHours ?? defaults.maxBorrowHours, 'input.maxBorrowHours', { min: 0, max: MAX_BORROW_HOURS }),
      creditHourPrice: price === null ? null : requireNumber(price, 'input.creditHourPrice', { min: 0, max: 1e9 }),
    };
  }

  private describe(pool: PoolEntity) {
    const { name, cap, defaultLeaseSeconds, maxLeaseSeconds, maxBorrowHours, creditHourPrice } = pool;
    return { name, cap, defaultLeaseSeconds, maxLeaseSeconds, maxBorrowHours, creditHourPrice };
  }

  private async assertNameFree(manager: EntityManager, organizationId: string, name: string): Promise<void> {
    if (await manager.existsBy(PoolEntity, { organizationId, name })) throw AppError.badInput('input.name', `A pool named "${name}" exists already`);
  }

  private async lockInOrganization(manager: EntityManager, organizationId: string, id: string, field = 'id'): Promise<PoolEntity> {
    const pool = isUuid(id) ? await manager.findOne(PoolEntity, { where: { id, organizationId }, lock: { mode: 'pessimistic_write' } }) : null;
    if (!pool) throw new AppError('NOT_FOUND', `No pool with id ${id} in your organization`, { field });
    return pool;
  }

  private async reservedTotal(manager: EntityManager, poolId: string): Promise<number> {
    const rows: { total: number }[] = await manager.query('SELECT coalesce(sum(reserved), 0)::int AS total FROM group_limits WHERE pool_id = $1', [poolId]);
    return rows[0].total;
  }
}
