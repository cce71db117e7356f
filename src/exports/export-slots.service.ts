import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { AppError } from '../common/errors/app-error';
import { RedisService } from '../common/redis/redis.service';
import { APP_CONFIG, AppConfig } from '../config/env';

/** A claim lives this long unless renewed: a process that dies frees its slots within it. */
export const SLOT_CLAIM_MS = 10_000;
/** A running export renews its claim this often, so a renewal or two may fail and it still holds. */
const RENEW_EVERY_MS = 3_000;
/** When a refused caller should try again: exports run for seconds to minutes, nothing tells when one ends. */
const RETRY_AFTER_SECONDS = 5;

type SlotCommands = Redis & {
  tpClaimExportSlot(key: string, claim: string, slots: number, lifetimeMs: number): Promise<number>;
  tpRenewExportSlot(key: string, claim: string, lifetimeMs: number): Promise<number>;
};

const readLua = (name: string): string => readFileSync(join(__dirname, 'lua', name), 'utf8');

/** An export's claim on one of its organization's slots; release it when the export ends. */
export interface ExportSlot {
  release(): Promise<void>;
}

/**
 * The export slots of every organization, shared by every API process through Redis: a
 * sorted set per organization of claim ids scored by expiry (lua/claim-export-slot.lua).
 * The only file of the exports that talks to Redis.
 */
@Injectable()
export class ExportSlotsService {
  private readonly logger = new Logger('ExportSlots');
  private readonly redis: SlotCommands;

  constructor(
    private readonly redisService: RedisService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const client = redisService.client;
    client.defineCommand('tpClaimExportSlot', { numberOfKeys: 1, lua: readLua('claim-export-slot.lua') });
    client.defineCommand('tpRenewExportSlot', { numberOfKeys: 1, lua: readLua('renew-export-slot.lua') });
    this.redis = client as SlotCommands;
  }

  /** Takes a slot of the organization, renewed until released; RATE_LIMITED when all are held. */
  async claim(organizationId: string): Promise<ExportSlot> {
    const key = this.redisService.key('export-slots', `{org:${organizationId}}`);
    const claim = randomUUID();
    const slots = this.config.exportSlotsPerOrganization;
    if ((await this.redis.tpClaimExportSlot(key, claim, slots, SLOT_CLAIM_MS)) !== 1) {
      throw new AppError('RATE_LIMITED', `Your organization already runs ${slots} exports, the most it may run at once; retry when one has finished`, {
        retryAfterSeconds: RETRY_AFTER_SECONDS,
      });
    }
    const renew = setInterval(() => {
      this.redis
        .tpRenewExportSlot(key, claim, SLOT_CLAIM_MS)
        .catch((err: Error) => this.logger.warn(`Could not renew an export slot of organization ${organizationId}: ${err.message}`));
    }, RENEW_EVERY_MS);
    renew.unref();
    return {
      release: async () => {
        clearInterval(renew);
        // Left to lapse if Redis cannot take it back now.
        await this.redis
          .zrem(key, claim)
          .catch((err: Error) => this.logger.warn(`Could not release an export slot of organization ${organizationId}: ${err.message}`));
      },
    };
  }
}
