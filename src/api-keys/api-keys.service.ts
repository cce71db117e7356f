import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import { EntityManager, IsNull, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { displayPrefixOf, hashApiKeySecret, newApiKeySecret } from '../auth/api-key-secret';
import { ApiKeyLookup } from '../auth/api-key-lookup';
import type { AuthContext } from '../auth/auth-context';
import type { Role } from '../auth/role';
import { AppError } from '../common/errors/app-error';
import { isDependencyDown } from '../common/errors/dependency-errors';
import { isUuid, requireValidDate } from '../common/validation/validate';
import { APP_CONFIG, AppConfig } from '../config/env';
import { PrincipalsService } from '../principals/principals.service';
import { ApiKeyEntity } from './api-key.entity';

export interface CreateApiKeyCommand {
  organizationId: string;
  actorPrincipalId: string;
  principalId: string;
  role: Role;
  expiresAt?: Date | null;
}

interface CachedAuth {
  auth: AuthContext;
  until: number;
}

/** The last time PostgreSQL confirmed a key, kept to serve it while PostgreSQL is unreachable. */
interface Verified {
  auth: AuthContext;
  at: number;
}

const LAST_USED_EVERY_MS = 60_000;
// Keys remembered for stale serving; past this the least recently used are forgotten.
const VERIFIED_KEYS_KEPT = 50_000;
// While PostgreSQL is unreachable, one request a second tries it again; the others are served
// (or refused) at once instead of each waiting for a connection that fails.
const OUTAGE_PROBE_EVERY_MS = 1000;

@Injectable()
export class ApiKeysService implements ApiKeyLookup {
  private readonly logger = new Logger(ApiKeysService.name);
  // A short cache keeps key lookups off the hot path; its lifetime (API_KEY_CACHE_SECONDS,
  // at most 2 s) bounds how long a revoked key keeps working on any replica.
  private readonly cache = new Map<string, CachedAuth>();
  private readonly verified = new LRUCache<string, Verified>({ max: VERIFIED_KEYS_KEPT });
  /** Set while PostgreSQL is unreachable: since when, when to try it again, and what was served. */
  private outage: { since: number; probeAt: number; served: number; refused: number } | null = null;
  private readonly lastUsedWritten = new Map<string, number>();

  constructor(
    @InjectRepository(ApiKeyEntity) private readonly keys: Repository<ApiKeyEntity>,
    private readonly principals: PrincipalsService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * The caller behind a secret's hash, or null when the key is unknown, revoked or expired.
   * While PostgreSQL is unreachable, a key it confirmed within AUTH_STALE_SECONDS keeps
   * working (so heartbeats, which need only Redis, outlive a short outage); any other key is
   * answered UNAVAILABLE, since PostgreSQL alone can tell whether it is good.
   */
  async authenticate(secretHash: string): Promise<AuthContext | null> {
    const now = Date.now();
    const cached = this.cache.get(secretHash);
    if (cached && cached.until > now) {
      return cached.auth.expiresAt && cached.auth.expiresAt.getTime() <= now ? null : cached.auth;
    }
    if (this.outage && now < this.outage.probeAt) return this.stale(secretHash, now);
    if (this.outage) this.outage.probeAt = now + OUTAGE_PROBE_EVERY_MS;
    let row: ApiKeyEntity | null;
    try {
      row = await this.lookUp(secretHash);
    } catch (err) {
      if (!isDependencyDown(err)) throw err;
      this.startOutage(err as Error);
      return this.stale(secretHash, Date.now());
    }
    this.endOutage();
    if (!row || !row.principal) {
      this.cache.delete(secretHash);
      this.verified.delete(secretHash);
      return null;
    }
    const auth: AuthContext = {
      keyId: row.id,
      organizationId: row.organizationId,
      principalId: row.principalId,
      principalKind: row.principal.kind,
      team: row.principal.team,
      role: row.role,
      expiresAt: row.expiresAt,
    };
    if (this.config.apiKeyCacheSeconds > 0) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(secretHash, { auth, until: now + this.config.apiKeyCacheSeconds * 1000 });
    }
    if (this.config.authStaleSeconds > 0) this.verified.set(secretHash, { auth, at: now });
    this.touch(row.id, now);
    return auth;
  }

  private lookUp(secretHash: string): Promise<ApiKeyEntity | null> {
    return this.keys
      .createQueryBuilder('k')
      .innerJoinAndSelect('k.principal', 'p')
      .where('k.secret_hash = :hash', { hash: secretHash })
      .andWhere('k.revoked_at IS NULL')
      .andWhere('(k.expires_at IS NULL OR k.expires_at > now())')
      .getOne();
  }

  /** During an outage: the key as PostgreSQL last confirmed it, if recently enough and not expired since. */
  private stale(secretHash: string, now: number): AuthContext | null {
    const outage = this.outage!;
    const last = this.verified.get(secretHash);
    if (!last || now - last.at > this.config.authStaleSeconds * 1000) {
      outage.refused += 1;
      throw AppError.unavailable('PostgreSQL is unreachable and this API key was not verified recently enough to be served without it; retry shortly', 2);
    }
    if (last.auth.expiresAt && last.auth.expiresAt.getTime() <= now) return null;
    outage.served += 1;
    return last.auth;
  }

  /** Logged once per outage, not per request. */
  private startOutage(err: Error): void {
    const now = Date.now();
    if (this.outage) {
      this.outage.probeAt = now + OUTAGE_PROBE_EVERY_MS;
      return;
    }
    this.outage = { since: now, probeAt: now + OUTAGE_PROBE_EVERY_MS, served: 0, refused: 0 };
    this.logger.warn(
      `PostgreSQL is unreachable (${err.message}): API keys verified in the last ${this.config.authStaleSeconds} s (AUTH_STALE_SECONDS) keep working, others are answered UNAVAILABLE`,
    );
  }

  private endOutage(): void {
    if (!this.outage) return;
    const { since, served, refused } = this.outage;
    this.outage = null;
    this.logger.log(
      `PostgreSQL answers again after ${((Date.now() - since) / 1000).toFixed(1)} s; ${served} requests were served on keys verified before, ${refused} refused`,
    );
  }

  async create(command: CreateApiKeyCommand): Promise<{ key: ApiKeyEntity; secret: string }> {
    await this.principals.getInOrganization(command.organizationId, command.principalId);
    const expiresAt = command.expiresAt ? requireValidDate(command.expiresAt, 'expiresAt') : null;
    if (expiresAt && expiresAt.getTime() <= Date.now()) throw AppError.badInput('expiresAt', 'expiresAt must be in the future');
    return this.keys.manager.transaction(async (manager) => {
      const created = await this.insert(manager, { ...command, expiresAt });
      await this.audit.record(manager, {
        organizationId: command.organizationId,
        actorPrincipalId: command.actorPrincipalId,
        action: 'createApiKey',
        objectId: created.key.id,
        before: null,
        after: { principalId: command.principalId, role: command.role, expiresAt },
      });
      return created;
    });
  }

  /** Stores a key (a given secret, e.g. BOOTSTRAP_ADMIN_KEY, or a new one) and returns its secret once. */
  async insert(
    manager: EntityManager,
    values: { organizationId: string; principalId: string; role: Role; expiresAt?: Date | null; secret?: string },
  ): Promise<{ key: ApiKeyEntity; secret: string }> {
    const secret = values.secret ?? newApiKeySecret();
    const key = await manager.save(
      ApiKeyEntity,
      manager.create(ApiKeyEntity, {
        organizationId: values.organizationId,
        principalId: values.principalId,
        role: values.role,
        expiresAt: values.expiresAt ?? null,
        secretHash: hashApiKeySecret(secret),
        displayPrefix: displayPrefixOf(secret),
      }),
    );
    return { key, secret };
  }

  async list(organizationId: string): Promise<ApiKeyEntity[]> {
    return this.keys.find({ where: { organizationId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** The key a request authenticated with (it may have been revoked since, within the revocation delay). */
  async current(auth: { organizationId: string; keyId: string }): Promise<ApiKeyEntity> {
    const key = await this.keys.findOneBy({ id: auth.keyId, organizationId: auth.organizationId });
    if (!key) throw new AppError('UNAUTHENTICATED', 'The API key of this request no longer exists; use another key');
    return key;
  }

  /** Revokes a key of the caller's organization; revoking twice is a no-op. */
  async revoke(command: { organizationId: string; actorPrincipalId: string; id: string }): Promise<boolean> {
    const key = isUuid(command.id) ? await this.keys.findOneBy({ id: command.id, organizationId: command.organizationId }) : null;
    if (!key) throw new AppError('NOT_FOUND', `No API key with id ${command.id} in your organization`, { field: 'id' });
    await this.keys.manager.transaction(async (manager) => {
      const result = await manager.update(ApiKeyEntity, { id: key.id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
      if (result.affected) {
        await this.audit.record(manager, {
          organizationId: command.organizationId,
          actorPrincipalId: command.actorPrincipalId,
          action: 'revokeApiKey',
          objectId: key.id,
          before: { revokedAt: null },
          after: { revoked: true },
        });
      }
    });
    this.cache.forEach((entry, hash) => {
      if (entry.auth.keyId === key.id) this.cache.delete(hash);
    });
    this.verified.forEach((entry, hash) => {
      if (entry.auth.keyId === key.id) this.verified.delete(hash);
    });
    return true;
  }

  /** Of the given key ids, those still in force (not revoked, not expired), read from the database, never the cache. */
  async stillValid(keyIds: string[]): Promise<Set<string>> {
    if (keyIds.length === 0) return new Set();
    const rows = await this.keys
      .createQueryBuilder('k')
      .select('k.id', 'id')
      .where('k.id = ANY(:ids)', { ids: keyIds })
      .andWhere('k.revoked_at IS NULL')
      .andWhere('(k.expires_at IS NULL OR k.expires_at > now())')
      .getRawMany<{ id: string }>();
    return new Set(rows.map((row) => row.id));
  }

  /** Records lastUsedAt at most once a minute per key, off the request's critical path. */
  private touch(keyId: string, now: number): void {
    const last = this.lastUsedWritten.get(keyId) ?? 0;
    if (now - last < LAST_USED_EVERY_MS) return;
    this.lastUsedWritten.set(keyId, now);
    this.keys.update({ id: keyId }, { lastUsedAt: () => 'now()' }).catch((err: Error) => {
      this.logger.warn(`Could not record lastUsedAt of key ${keyId}: ${err.message}`);
    });
  }
}
