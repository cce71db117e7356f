/**
 * npm run bench:import — a generated FlexNet debug log of BENCH_LINES lines (default
 * 1,000,000: OUT/IN pairs of 5 features by 300 users, denials, TIMESTAMP and SLOG lines)
 * imported through POST /v1/imports/flexlm of the running API (dist/main.js, NODE_ENV
 * production), streamed from a file on disk, as `tokenpool import` sends it; then the same file
 * again (every event a duplicate). The baseline, measured in the same run: the parser alone
 * over the same lines in this process. Prints lines/s of each and the ratios. Uses its own
 * database (tokenpool_bench_import, recreated) and Redis prefix; stops what it starts.
 * Target: the first import at 50,000 lines/s or more.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { generateFlexlmLog } from '../src/license-logs/generate-flexlm';
import { parseLines } from '../src/license-logs/log-events';
import { benchApiEnv, createBenchOrganization, freshDatabase, waitForUrl } from './bench-support';

const ROOT = join(__dirname, '..');
const LINES = Number(process.env.BENCH_LINES ?? 1_000_000);
const PORT = 3913;
const FEATURES = ['cad_pro', 'cad_std', 'fea_solver', 'cfd_solver', 'viz'];
const TZ = 'Europe/Berlin';

async function gql(key: string, query: string, variables: Record<string, unknown> = {}): Promise<Record<string, { id: string }>> {
  const res = await fetch(`http://127.0.0.1:${PORT}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: Record<string, { id: string }>; errors?: unknown };
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function importFile(key: string, poolId: string, file: string): Promise<{ seconds: number; summary: Record<string, unknown> }> {
  const started = performance.now();
  const res = await fetch(`http://127.0.0.1:${PORT}/v1/imports/flexlm?poolId=${poolId}&tz=${encodeURIComponent(TZ)}`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', authorization: `Bearer ${key}` },
    body: Readable.toWeb(createReadStream(file)) as ReadableStream,
    duplex: 'half',
  } as RequestInit);
  const summary = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`import answered ${res.status}: ${JSON.stringify(summary)}`);
  return { seconds: (performance.now() - started) / 1000, summary };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tp-bench-import-'));
  const file = join(dir, 'lmgrd.log');
  const lines = [...generateFlexlmLog({ lines: LINES, features: FEATURES, users: 300, seed: 11, startDate: new Date('2026-09-01T07:00:00Z') })];
  writeFileSync(file, `${lines.join('\n')}\n`);
  console.log(`A generated FlexNet log: ${LINES.toLocaleString('en-US')} lines, ${(statSync(file).size / 1e6).toFixed(0)} MB, time zone ${TZ}`);

  // The baseline: the parser alone, in this process.
  const parseStarted = performance.now();
  let events = 0;
  for (const parsed of parseLines('flexlm', lines, { timeZone: TZ })) if (parsed.event) events += 1;
  const parseSeconds = (performance.now() - parseStarted) / 1000;

  const databaseUrl = await freshDatabase('tokenpool_bench_import');
  const env = { NODE_ENV: 'production', ...benchApiEnv({ databaseUrl, redisPrefix: 'tpbench:import', port: PORT, logLevel: 'info' }) };
  const created = createBenchOrganization(env);
  const api: ChildProcess = spawn(process.execPath, [join(ROOT, 'dist', 'main.js')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The API's own account of each import (read, written, rollups), from its log.
  api.stdout!.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      const msg = /"msg":"(Imported a [^"]*)"/.exec(line);
      if (msg) console.log(`API: ${msg[1]}`);
    }
  });
  try {
    await waitForUrl(`http://127.0.0.1:${PORT}/health/ready`);
    const pool = (await gql(created.adminKey, 'mutation { createPool(input: { name: "flexnet", cap: 500 }) { id } }')).createPool.id;
    for (const [i, feature] of FEATURES.entries()) {
      await gql(created.adminKey, 'mutation($input: CreateAppInput!) { createApp(input: $input) { id } }', {
        input: { poolId: pool, key: `app-${i}`, name: feature, cost: 1 + i, externalNames: [feature] },
      });
    }
    const first = await importFile(created.adminKey, pool, file);
    const again = await importFile(created.adminKey, pool, file);
    const rate = (seconds: number) => Math.round(LINES / seconds);
    const fmt = (n: number) => n.toLocaleString('en-US');
    console.log(`\nFirst import: ${JSON.stringify(first.summary)}`);
    console.log(`Again: ${JSON.stringify(again.summary)}\n`);
    console.log('path | seconds | lines/s | ÷ parser alone | target');
    console.log('---|---:|---:|---:|---:');
    console.log(`parser alone (parseLines, ${fmt(events)} events) | ${parseSeconds.toFixed(1)} | ${fmt(rate(parseSeconds))} | 1.00 |`);
    console.log(
      `POST /v1/imports/flexlm, first import | ${first.seconds.toFixed(1)} | ${fmt(rate(first.seconds))} | ${(parseSeconds / first.seconds).toFixed(2)} | ≥ 50,000`,
    );
    console.log(
      `POST /v1/imports/flexlm, the same file again | ${again.seconds.toFixed(1)} | ${fmt(rate(again.seconds))} | ${(parseSeconds / again.seconds).toFixed(2)} |`,
    );
  } finally {
    api.kill('SIGTERM');
    await new Promise((resolve) => api.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
