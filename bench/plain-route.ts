/**
 * The comparison point for the end-to-end benchmark: a plain Fastify server (no Nest, no
 * GraphQL, no auth, no PostgreSQL) whose two routes run the shared baseline scripts, unchanged.
 * Started by bench/leases.bench.ts as its own process: PORT, REDIS_URL, BASELINE_DIR.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import Redis from 'ioredis';

type Scripted = Redis & {
  baselineCheckout(...args: (string | number)[]): Promise<[number, number, number]>;
  baselineCheckin(...args: (string | number)[]): Promise<number>;
};

async function main(): Promise<void> {
  const dir = process.env.BASELINE_DIR!;
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') as Scripted;
  redis.defineCommand('baselineCheckout', { numberOfKeys: 3, lua: readFileSync(join(dir, 'baseline-checkout.lua'), 'utf8') });
  redis.defineCommand('baselineCheckin', { numberOfKeys: 3, lua: readFileSync(join(dir, 'baseline-checkin.lua'), 'utf8') });
  const prefix = `tpbench:plain:${randomUUID().slice(0, 8)}`;
  const keys = [`{${prefix}}:leases`, `{${prefix}}:costs`, `{${prefix}}:used`];
  const app = Fastify();
  app.post('/checkout', async () => {
    const id = randomUUID();
    const [status, used, expiresAt] = await redis.baselineCheckout(...keys, 1_000_000_000, 3, id, 60_000);
    return { id, status, used, expiresAt };
  });
  app.post<{ Body: { id: string } }>('/checkin', async (request) => ({ used: await redis.baselineCheckin(...keys, request.body.id) }));
  await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
  const stop = async () => {
    await app.close();
    await redis.del(...keys);
    redis.disconnect();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
