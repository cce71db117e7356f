import { randomUUID } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { TokenpoolClient, type TokenpoolClientOptions } from '@tokenpool/client';
import { ApiProcess, freePort, runCli, startApi } from '../../../test/support/processes';

/** A new organization in the run's database (through the real CLI, as an operator would): its ADMIN key. */
export async function newOrganization(): Promise<string> {
  const created = await runCli(['org', 'create', `sdk-${randomUUID()}`]);
  if (created.code !== 0) throw new Error(`org create failed: ${created.stderr}`);
  return (JSON.parse(created.stdout) as { adminKey: string }).adminKey;
}

/** What a spec file runs against: an API process, a fresh organization, and an ADMIN client of it. */
export interface SdkWorld {
  api: ApiProcess;
  adminKey: string;
  admin: TokenpoolClient;
}

/**
 * Starts the world before the spec file's tests (startApi's arguments) and stops it after
 * them; its fields are set once beforeAll has run.
 */
export function useSdkWorld(...start: Parameters<typeof startApi>): SdkWorld {
  const world = {} as SdkWorld;
  beforeAll(async () => {
    [world.api, world.adminKey] = await Promise.all([startApi(...start), newOrganization()]);
    world.admin = new TokenpoolClient({ url: world.api.url, apiKey: world.adminKey });
  });
  afterAll(async () => {
    await world.admin?.close();
    await world.api?.stop();
  });
  return world;
}

/** A pool with one app, made through the SDK's admin helpers. */
export async function poolWithApp(admin: TokenpoolClient, options: { cap: number; cost: number }): Promise<{ poolId: string; appKey: string; appId: string }> {
  const pool = await admin.createPool({ name: `pool-${randomUUID()}`, cap: options.cap });
  const appKey = `app-${randomUUID().slice(0, 8)}`;
  const app = await admin.createApp({ poolId: pool.id, key: appKey, name: appKey, cost: options.cost });
  return { poolId: pool.id, appKey, appId: app.id };
}

/** A client whose fetch counts the requests whose body contains `marker`. */
export function countingClient(options: TokenpoolClientOptions, marker: string): { client: TokenpoolClient; sent: number[]; failed: () => number } {
  const sent: number[] = [];
  let failed = 0;
  const client = new TokenpoolClient({
    ...options,
    fetch: async (input, init) => {
      if (typeof init.body === 'string' && init.body.includes(marker)) sent.push(Date.now());
      try {
        return await fetch(input, init);
      } catch (err) {
        failed++;
        throw err;
      }
    },
  });
  return { client, sent, failed: () => failed };
}

/**
 * A TCP forwarder whose target can change (an API restarted on another port keeps the
 * client's URL), which can drop every open connection at once, and which can swallow the
 * next answers: the server has done the work, and the connection dies before the client
 * reads a byte of the answer.
 */
export async function startSwitchableProxy(
  targetPort: number,
): Promise<{ url: string; retarget(port: number): void; drop(): void; dropNextAnswers(count: number): void; connections(): number; close(): Promise<void> }> {
  const port = await freePort();
  let target = targetPort;
  let answersToDrop = 0;
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = createConnection({ host: '127.0.0.1', port: target });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (answersToDrop > 0) {
        answersToDrop--;
        upstream.destroy();
        client.destroy();
      } else client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const drop = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    retarget: (p) => (target = p),
    drop,
    dropNextAnswers: (count) => (answersToDrop = count),
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        drop();
        server.close(() => resolve());
      }),
  };
}

export function portOf(url: string): number {
  return Number(new URL(url).port);
}
