import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectRepository } from '@nestjs/typeorm';
import type { FastifyInstance } from 'fastify';
import { LRUCache } from 'lru-cache';
import type { PubSub } from 'mercurius';
import { Repository } from 'typeorm';
import { RedisClient, RedisService } from '../common/redis/redis.service';
import { PoolEntity } from './pool.entity';

export interface PoolChangedPayload {
  poolId: string;
}

/** A change of a pool with its organization, as relayed in this API process (see onChange). */
export type PoolChangeListener = (change: { poolId: string; organizationId: string }) => void;

// Pools whose organization this process remembers (a pool never changes organization).
const OWNERS_KEPT = 10_000;

/**
 * "Something changed in pool X": published on Redis by whichever process made the change
 * (API or worker), and relayed by every API replica into its own GraphQL pubsub, so each
 * poolChanged subscriber sees every change wherever it happened; and, under the pool's
 * organization's topic, each poolsChanged subscriber of that organization.
 */
@Injectable()
export class PoolEventsService implements OnApplicationBootstrap {
  private readonly logger = new Logger(PoolEventsService.name);
  private readonly channel: string;
  private subscriber?: RedisClient;
  /** Local waiters (check-outs in the fair queue) by pool, woken by the next change. */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Pools changed in this turn of the event loop, announced at its end. */
  private readonly pending = new Set<string>();

  /** Each pool's organization, for the organization's topic. */
  private readonly owners = new LRUCache<string, string>({ max: OWNERS_KEPT });
  /** In-process listeners beside GraphQL (the MCP sessions' resource notifications). */
  private readonly listeners = new Set<PoolChangeListener>();

  constructor(
    private readonly redis: RedisService,
    private readonly adapterHost: HttpAdapterHost,
    @InjectRepository(PoolEntity) private readonly pools: Repository<PoolEntity>,
  ) {
    this.channel = redis.key('pool-events');
  }

  topic(poolId: string): string {
    return `POOL_CHANGED:${poolId}`;
  }

  /** Every change of every pool of the organization. */
  organizationTopic(organizationId: string): string {
    return `POOLS_CHANGED:${organizationId}`;
  }

  /**
   * Announces a change; never delays or fails the operation that made it. Changes of one
   * pool within the same turn of the event loop go out as one message: under load a
   * process ends and grants many leases of a pool per turn, and "it changed" says it once.
   */
  changed(poolId: string): void {
    if (this.pending.size === 0) setImmediate(() => this.flush());
    this.pending.add(poolId);
  }

  private flush(): void {
    const pools = [...this.pending];
    this.pending.clear();
    for (const poolId of pools) {
      this.redis.client.publish(this.channel, poolId).catch((err: Error) => this.logger.warn(`Could not announce a change of pool ${poolId}: ${err.message}`));
    }
  }

  /**
   * Resolves at the next change of the pool seen by this process, after `ms`, or when the
   * signal aborts, whichever comes first. Only API processes hear changes; elsewhere it just
   * waits out `ms`.
   */
  nextChange(poolId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      let waiters = this.waiters.get(poolId);
      if (!waiters) this.waiters.set(poolId, (waiters = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(poolId) === waiters) this.waiters.delete(poolId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      waiters.add(done);
    });
  }

  /**
   * Hears every change relayed to this API process, with the pool's organization, after the
   * GraphQL subscribers: for consumers that are not GraphQL (MCP resource notifications).
   */
  onChange(listener: PoolChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Only processes that serve GraphQL relay events; the worker just publishes. */
  async onApplicationBootstrap(): Promise<void> {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    const pubsub = fastify?.graphql?.pubsub;
    if (!pubsub) return;
    this.subscriber = this.redis.duplicate('pool-events');
    this.subscriber.on('message', (_channel: string, poolId: string) => {
      for (const wake of [...(this.waiters.get(poolId) ?? [])]) wake();
      const payload: PoolChangedPayload = { poolId };
      pubsub.publish({ topic: this.topic(poolId), payload });
      void this.publishToOrganization(pubsub, payload);
    });
    await this.subscriber.subscribe(this.channel);
  }

  private async publishToOrganization(pubsub: PubSub, payload: PoolChangedPayload): Promise<void> {
    let organizationId = this.owners.get(payload.poolId);
    if (!organizationId) {
      try {
        const pool = await this.pools.findOne({ where: { id: payload.poolId }, select: { id: true, organizationId: true } });
        if (!pool) return; // deleted since: nobody's to hear of
        organizationId = pool.organizationId;
        this.owners.set(payload.poolId, organizationId);
      } catch (err) {
        this.logger.warn(`Change of pool ${payload.poolId} not sent to poolsChanged: its organization could not be read (${(err as Error).message})`);
        return;
      }
    }
    pubsub.publish({ topic: this.organizationTopic(organizationId), payload });
    for (const listener of this.listeners) listener({ poolId: payload.poolId, organizationId });
  }
}
