import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { RedisService } from '../redis/redis.service';

type Check = 'ok' | 'down' | 'pending';

/** Liveness says the process answers; readiness says it can serve: PostgreSQL, Redis and the schema are there. */
@Controller('health')
export class HealthController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly redis: RedisService,
  ) {}

  @Get('live')
  @HttpCode(200)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(@Res() reply: FastifyReply): Promise<void> {
    const [postgres, redis] = await Promise.all([this.postgres(), this.redis.ping().then((ok): Check => (ok ? 'ok' : 'down'))]);
    const migrations: Check = postgres === 'ok' ? await this.migrations() : 'down';
    const ready = postgres === 'ok' && redis === 'ok' && migrations === 'ok';
    await reply.status(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', checks: { postgres, redis, migrations } });
  }

  private async postgres(): Promise<Check> {
    try {
      await this.dataSource.query('SELECT 1');
      return 'ok';
    } catch {
      return 'down';
    }
  }

  private async migrations(): Promise<Check> {
    try {
      return (await this.dataSource.showMigrations()) ? 'pending' : 'ok';
    } catch {
      return 'down';
    }
  }
}
