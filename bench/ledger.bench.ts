/**
 * npm run bench:ledger — compute events ingested per second, measured in one run against the
 * same PostgreSQL, with BENCH_CONCURRENCY clients per tier. The tiers run in interleaved 3 s turns
 * (BENCH_TURNS each, after one warm-up turn), counting the batches completed from 0.5 s to 3 s,
 * and the median turn is reported, so load from elsewhere on this shared machine hits every
 * tier alike:
 *  1. bare: a multi-row INSERT of the same rows (500 per statement) through `pg` into a plain
 *     table with the ledger's columns: no partitions, indexes, triggers, keys or pricing;
 *  2. writer: ComputeLedgerWriter.appendCompute in a transaction (idempotency keys, priced
 *     partitioned insert, totals trigger), no HTTP, no GraphQL, no validation;
 *  3. recordComputeUsage through the running API (dist/main.js), batches of 500;
 *  4. POST /v1/traces through the running API, exports of 500 spans (OTLP JSON).
 * Tiers 2 and 3 run again with the ledger sealed every BENCH_SEAL_EVERY_MS (default 1 s) during
 * their turns, and each is printed with its ratio to the same tier with sealing off.
 * Every event is new (fresh ids) and priced from the model price table; the API runs with
 * NODE_ENV=production, as the image does. Prints events/s and the ratio of each tier to the bare
 * insert. Uses its own database (tokenpool_bench_ledger, recreated) and Redis key prefix;
 * everything it starts, it stops.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/common/database/data-source';
import { ComputeLedgerWriter, ComputeRow } from '../src/ledger/compute-ledger-writer';
import { LedgerSealsService } from '../src/ledger-seals/ledger-seals.service';
import { benchApiEnv, createBenchOrganization, freshDatabase, waitForUrl } from './bench-support';

const ROOT = join(__dirname, '..');
const TURNS = Number(process.env.BENCH_TURNS ?? 4);
const TURN_MS = 3000;
// Batches take a few hundred ms under load: count only those completed in the turn's steady
// part, after every client has one in flight and before the stragglers of the end.
const STEADY_FROM_MS = 500;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const BATCH = 500;
const PORT = 3911;
const MODELS = ['gpt-a', 'gpt-b', 'claude-c', 'llama-d'];
const SEAL_EVERY_MS = Number(process.env.BENCH_SEAL_EVERY_MS ?? 1000);

interface Tier {
  name: string;
  /** Runs beside the tier's turns: the sealer, for the "sealing on" tiers. */
  beside?: (until: () => boolean) => Promise<void>;
  /** The tier this one is compared with (the same path with sealing off). */
  baseline?: Tier;
  /** Sends one batch (the n-th of the run) on client `client`; returns the events it recorded. */
  send: (n: number, client: number) => Promise<number>;
  close?: () => Promise<void>;
  rates: number[];
}

let sequence = 0;

/** One turn of a tier: CONCURRENCY clients send batches for TURN_MS; returns the steady events per second. */
async function turn(tier: Tier): Promise<number> {
  const started = Date.now();
  let events = 0;
  const beside = tier.beside?.(() => Date.now() - started >= TURN_MS);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, client) => {
      while (Date.now() - started < TURN_MS) {
        const recorded = await tier.send(sequence++, client);
        const at = Date.now() - started;
        if (at >= STEADY_FROM_MS && at <= TURN_MS) events += recorded;
      }
    }),
  );
  await beside;
  return events / ((TURN_MS - STEADY_FROM_MS) / 1000);
}

/**
 * The sealer: a process of its own, as the worker is, that seals the organization every
 * SEAL_EVERY_MS while a "sealing on" tier runs (told by IPC), with the service from dist/. The
 * worker seals hourly by default, every 60 s at the most; every second is far harsher. A seal
 * reads and hashes every row recorded since the last one.
 */
const SEALER = `
const { DataSource } = require('typeorm');
const { dataSourceOptions } = require(process.argv[1] + '/dist/common/database/data-source');
const { LedgerSealsService } = require(process.argv[1] + '/dist/ledger-seals/ledger-seals.service');
const [, , url, organizationId, every] = process.argv;
const ds = new DataSource(dataSourceOptions(url, { extra: { max: 2 } }));
let on = false, seals = 0, rows = 0, running;
async function loop() {
  while (on) {
    await new Promise((r) => setTimeout(r, Number(every)));
    const seal = await new LedgerSealsService(ds).seal(organizationId);
    if (seal) { seals += 1; rows += seal.rows; }
  }
}
process.on('message', async (m) => {
  if (m === 'start') { on = true; running = loop(); process.send('started'); }
  if (m === 'stop') { on = false; await running; process.send({ seals, rows }); }
  if (m === 'exit') { await ds.destroy(); process.exit(0); }
});
ds.initialize().then(() => process.send('ready'));
`;

interface Sealer {
  command: (message: 'start' | 'stop' | 'exit') => Promise<unknown>;
}

function startSealer(databaseUrl: string, organizationId: string): Promise<Sealer> {
  const child = spawn(process.execPath, ['-e', SEALER, ROOT, databaseUrl, organizationId, String(SEAL_EVERY_MS)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const next = () => new Promise<unknown>((resolve) => child.once('message', resolve));
  return next().then(() => ({
    command: (message) => {
      const answer = message === 'exit' ? new Promise((resolve) => child.once('exit', resolve)) : next();
      child.send(message);
      return answer;
    },
  }));
}

/** The tier again with the sealer running through each of its turns. */
function sealing(tier: Tier, sealer: Sealer, counts: { seals: number; rows: number }): Tier {
  return {
    name: `${tier.name}, sealing every ${SEAL_EVERY_MS / 1000} s`,
    rates: [],
    baseline: tier,
    send: tier.send,
    beside: async (done) => {
      await sealer.command('start');
      while (!done()) await new Promise((r) => setTimeout(r, 50));
      const made = (await sealer.command('stop')) as { seals: number; rows: number };
      counts.seals = made.seals;
      counts.rows = made.rows;
    },
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function rows(workUnitId: string, batch: number): ComputeRow[] {
  const now = Date.now();
  return Array.from({ length: BATCH }, (_, i) => ({
    eventKey: `compute:${batch}-${i}-${randomUUID()}`,
    contentHash: 'bench',
    workUnitId,
    provider: 'openai',
    model: MODELS[i % MODELS.length],
    inputTokens: 1000 + i,
    cachedInputTokens: 200,
    outputTokens: 300,
    reasoningTokens: 0,
    cost: null,
    occurredAt: new Date(now - i),
  }));
}

/** 1. The floor: the same rows, one multi-row INSERT per batch, into a table with nothing on it. */
async function bare(databaseUrl: string, organizationId: string, workUnitId: string): Promise<Tier> {
  const clients = await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      const c = new Client({ connectionString: databaseUrl });
      await c.connect();
      return c;
    }),
  );
  await clients[0].query('CREATE TABLE bench_bare (LIKE ledger_entries INCLUDING DEFAULTS)');
  let next = 0;
  const columns =
    'id, organization_id, event_key, kind, meter, work_unit_id, principal_id, occurred_at, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, currency, cost_source, provider, model';
  return {
    name: 'bare multi-row INSERT (pg)',
    rates: [],
    send: async (n, client) => {
      const values: unknown[] = [];
      const tuples = rows(workUnitId, n).map((r, i) => {
        values.push(next++, organizationId, r.eventKey, workUnitId, r.occurredAt, r.inputTokens, r.cachedInputTokens, r.outputTokens, r.model);
        const p = i * 9;
        return `($${p + 1}, $${p + 2}, $${p + 3}, 'COMPUTE', 'COMPUTE', $${p + 4}, NULL, $${p + 5}, $${p + 6}, $${p + 7}, $${p + 8}, 0, 'USD', 'UNPRICED', 'openai', $${p + 9})`;
      });
      await clients[client].query(`INSERT INTO bench_bare (${columns}) VALUES ${tuples.join(', ')}`, values);
      return BATCH;
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.end()));
    },
  };
}

/** 2. The ledger's own statement: keys, priced partitioned insert, totals trigger, in a transaction. */
async function writer(databaseUrl: string, organizationId: string, principalId: string, workUnitId: string): Promise<Tier> {
  const dataSource = new DataSource(dataSourceOptions(databaseUrl, { extra: { max: CONCURRENCY } }));
  await dataSource.initialize();
  const ledger = new ComputeLedgerWriter();
  return {
    name: 'ComputeLedgerWriter (TypeORM, no HTTP)',
    rates: [],
    send: async (n) => {
      const batch = rows(workUnitId, n).sort((a, b) => (a.eventKey < b.eventKey ? -1 : 1));
      return (await dataSource.transaction((m) => ledger.appendCompute(m, { organizationId, principalId, rows: batch }))).size;
    },
    close: () => dataSource.destroy(),
  };
}

async function post(path: string, key: string, body: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${PORT}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body,
  });
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** 3. recordComputeUsage through the API. */
function graphql(key: string, workUnitId: string): Tier {
  const query = 'mutation($e: [ComputeUsageInput!]!) { recordComputeUsage(events: $e) { accepted duplicates conflicts } }';
  const send = async (n: number) => {
    const events = rows(workUnitId, n).map((r) => ({
      eventId: r.eventKey.slice('compute:'.length),
      workUnitId,
      provider: r.provider,
      model: r.model,
      inputTokens: r.inputTokens,
      cachedInputTokens: r.cachedInputTokens,
      outputTokens: r.outputTokens,
      occurredAt: r.occurredAt.toISOString(),
    }));
    const body = (await post('/graphql', key, JSON.stringify({ query, variables: { e: events } }))) as {
      data?: { recordComputeUsage: { accepted: number } };
      errors?: unknown;
    };
    if (!body.data) throw new Error(JSON.stringify(body.errors));
    return body.data.recordComputeUsage.accepted;
  };
  return { name: 'recordComputeUsage (GraphQL)', rates: [], send };
}

/** 4. OTLP/HTTP JSON exports through the API, the work unit named by the resource. */
function otlp(key: string, workUnitRef: string): Tier {
  const kv = (k: string, v: Record<string, unknown>) => ({ key: k, value: v });
  const send = async (n: number) => {
    const spans = rows('', n).map((r, i) => {
      const traceId = randomUUID().replace(/-/g, '');
      const end = BigInt(r.occurredAt.getTime()) * 1_000_000n;
      return {
        traceId,
        spanId: traceId.slice(0, 16),
        name: `chat ${r.model}`,
        kind: 3,
        startTimeUnixNano: String(end - 500_000_000n),
        endTimeUnixNano: String(end),
        attributes: [
          kv('gen_ai.operation.name', { stringValue: 'chat' }),
          kv('gen_ai.provider.name', { stringValue: r.provider }),
          kv('gen_ai.request.model', { stringValue: r.model }),
          kv('gen_ai.usage.input_tokens', { intValue: String(r.inputTokens) }),
          kv('gen_ai.usage.cache_read.input_tokens', { intValue: String(r.cachedInputTokens) }),
          kv('gen_ai.usage.output_tokens', { intValue: String(r.outputTokens + i) }),
        ],
      };
    });
    const resource = { attributes: [kv('service.name', { stringValue: 'bench' }), kv('tokenpool.work_unit', { stringValue: workUnitRef })] };
    const answer = (await post('/v1/traces', key, JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 'bench' }, spans }] }] }))) as {
      partialSuccess?: { rejectedSpans?: number };
    };
    if (answer.partialSuccess?.rejectedSpans) throw new Error(JSON.stringify(answer));
    return BATCH;
  };
  return { name: 'POST /v1/traces (OTLP JSON)', rates: [], send };
}

function start(file: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function main(): Promise<void> {
  const databaseUrl = await freshDatabase('tokenpool_bench_ledger');
  const env = { NODE_ENV: 'production', ...benchApiEnv({ databaseUrl, redisPrefix: 'tpbench:ledger', port: PORT }) };
  const created = createBenchOrganization(env);
  const api = start(join(ROOT, 'dist', 'main.js'), env);
  try {
    await waitForUrl(`http://127.0.0.1:${PORT}/health/ready`);
    const gql = async (query: string) =>
      ((await post('/graphql', created.adminKey, JSON.stringify({ query }))) as { data: Record<string, Record<string, string>> }).data;
    const workUnitRef = 'bench-run';
    const workUnitId = (await gql(`mutation { upsertWorkUnit(input: { externalRef: "${workUnitRef}" }) { id } }`)).upsertWorkUnit.id;
    const principalId = (await gql('{ me { id } }')).me.id;
    for (const model of MODELS) {
      await gql(
        `mutation { setModelPrice(input: { provider: "openai", model: "${model}", inputPerMillion: 2, outputPerMillion: 8, cachedInputPerMillion: 0.5, effectiveFrom: "2020-01-01T00:00:00Z" }) }`,
      );
    }
    console.log(
      `Ingest: ${CONCURRENCY} concurrent clients per tier, batches of ${BATCH} new events, ${TURNS} interleaved turns of ${TURN_MS / 1000} s per tier`,
    );
    const sealer = await startSealer(databaseUrl, created.organizationId);
    const sealed = { seals: 0, rows: 0 };
    const ledgerWriter = await writer(databaseUrl, created.organizationId, principalId, workUnitId);
    const api = graphql(created.adminKey, workUnitId);
    const tiers = [
      await bare(databaseUrl, created.organizationId, workUnitId),
      ledgerWriter,
      sealing(ledgerWriter, sealer, sealed),
      api,
      sealing(api, sealer, sealed),
      otlp(created.adminKey, workUnitRef),
    ];
    for (const tier of tiers) await turn(tier); // warm-up turn, not counted
    for (let i = 0; i < TURNS; i++) for (const tier of tiers) tier.rates.push(await turn(tier));
    for (const tier of new Set(tiers)) await tier.close?.();
    await sealer.command('exit');
    const checker = new DataSource(dataSourceOptions(databaseUrl, { extra: { max: 1 } }));
    await checker.initialize();
    const verification = await new LedgerSealsService(checker).verify(created.organizationId);
    await checker.destroy();
    const floor = median(tiers[0].rates);
    console.log('\ntier | events/s (median turn) | min–max | ÷ bare insert | ÷ sealing off\n---|---:|---:|---:|---:');
    for (const tier of tiers) {
      const rate = median(tier.rates);
      const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
      const vsOff = tier.baseline ? (rate / median(tier.baseline.rates)).toFixed(2) : '';
      console.log(`${tier.name} | ${fmt(rate)} | ${fmt(Math.min(...tier.rates))}–${fmt(Math.max(...tier.rates))} | ${(rate / floor).toFixed(2)} | ${vsOff}`);
    }
    console.log(
      `\nSeals made during the sealing turns: ${sealed.seals}, covering ${sealed.rows.toLocaleString('en-US')} rows; verifyLedger afterwards: ${JSON.stringify(verification)}`,
    );
  } finally {
    api.kill('SIGTERM');
    await new Promise((resolve) => api.once('exit', resolve));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
