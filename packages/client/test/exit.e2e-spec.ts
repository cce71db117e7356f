import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ApiProcess, startApi } from '../../../test/support/processes';
import { newOrganization, poolWithApp } from './fixtures';
import { TokenpoolClient } from '@tokenpool/client';

/**
 * A script that used every part of the client (a lease and its heartbeats, usage, a watch over
 * the WebSocket, a proof check) exits by itself once close() resolved: nothing the client
 * started keeps the event loop alive.
 */
const SCRIPT = `
const { TokenpoolClient } = require(${JSON.stringify(join(__dirname, '..', 'src', 'index.ts'))});
(async () => {
  const tp = new TokenpoolClient();
  const lease = await tp.checkout({ poolId: process.env.POOL, app: process.env.APP, leaseSeconds: 5 });
  const stop = tp.watchPools(() => undefined);
  await tp.verifyProof(lease.proof);
  tp.recordUsage({ provider: 'openai', model: 'm', inputTokens: 1, outputTokens: 1 });
  await new Promise((r) => setTimeout(r, 1500)); // a heartbeat goes out
  stop();
  await tp.close();
  console.log('closed');
})().catch((err) => { console.error(err); process.exit(2); });
`;

describe('SDK and the process lifetime', () => {
  let api: ApiProcess;
  let adminKey: string;

  beforeAll(async () => {
    [api, adminKey] = await Promise.all([startApi(), newOrganization()]);
  });

  afterAll(async () => {
    await api?.stop();
  });

  it('lets a script exit once close() resolved', async () => {
    const admin = new TokenpoolClient({ url: api.url, apiKey: adminKey });
    const { poolId, appKey } = await poolWithApp(admin, { cap: 5, cost: 1 });
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', SCRIPT], {
      env: {
        ...process.env,
        TOKENPOOL_URL: api.url,
        TOKENPOOL_API_KEY: adminKey,
        POOL: poolId,
        APP: appKey,
        TS_NODE_PROJECT: join(__dirname, '..', '..', '..', 'tsconfig.json'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    let closedAt = 0;
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('closed')) closedAt = Date.now();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    expect({ code, output }).toEqual({ code: 0, output: 'closed\n' });
    expect(Date.now() - closedAt).toBeLessThan(2_000);
    expect((await admin.pools()).find((p) => p.id === poolId)).toMatchObject({ inUse: 0 });
    await admin.close();
  });
});
