import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { ComputeLedgerWriter } from '../src/ledger/compute-ledger-writer';
import { MetricsService } from '../src/common/metrics/metrics.service';
import { LedgerSealJobsProcessor } from '../src/ledger-seals/ledger-seal-jobs.processor';
import { LedgerSealMetricsService } from '../src/ledger-seals/ledger-seal-metrics.service';
import { LedgerSealsService } from '../src/ledger-seals/ledger-seals.service';
import { codeOf, TestApp } from './support/app';

const RECORD = 'mutation($events: [ComputeUsageInput!]!) { recordComputeUsage(events: $events) { accepted } }';
const SEAL = 'mutation { sealLedger { sequence rows firstRecordedAt lastRecordedAt previousDigest digest sealedAt } }';
const SEALS = 'query($first: Int, $after: Int) { ledgerSeals(first: $first, after: $after) { sequence rows previousDigest digest } }';
const VERIFY = 'query($from: Int, $to: Int) { verifyLedger(fromSequence: $from, toSequence: $to) { ok sealsChecked rowsChecked firstBrokenSeal reason } }';

interface Seal {
  sequence: number;
  rows: number;
  firstRecordedAt: string | null;
  lastRecordedAt: string | null;
  previousDigest: string;
  digest: string;
  sealedAt: string;
}

interface Verification {
  ok: boolean;
  sealsChecked: number;
  rowsChecked: number;
  firstBrokenSeal: number | null;
  reason: string | null;
}

/** The Python recipe of docs/ledger-audit.md, as the docs print it. */
function docsRecipe(): string {
  const doc = readFileSync(join(__dirname, '..', 'docs', 'ledger-audit.md'), 'utf8');
  const match = /```python\n([\s\S]*?)```/.exec(doc);
  if (!match) throw new Error('docs/ledger-audit.md has no python block');
  return match[1];
}

/**
 * The sealed ledger: every row in exactly one seal however writers and sealers interleave;
 * an edit, a deletion or a changed seal found at the right seal with the right reason; an
 * auditor's export whose digests a few lines of Python recompute.
 */
describe('the sealed ledger', () => {
  let t: TestApp;
  let db: DataSource;
  let superuser: Client;

  beforeAll(async () => {
    t = await TestApp.start();
    db = t.app.get(DataSource);
    // The database superuser, as someone who went around the application would be.
    superuser = new Client({ connectionString: process.env.DATABASE_URL });
    await superuser.connect();
  });

  afterAll(async () => {
    await superuser.end();
    await t.close();
  });

  async function tenant(label: string) {
    const org = await t.organization(label);
    const client = await t.principalWithKey(org.adminKey, 'CLIENT', { name: 'agent', kind: 'AGENT' });
    const viewer = await t.principalWithKey(org.adminKey, 'VIEWER');
    return { ...org, client, viewer };
  }

  async function record(key: string, n: number, tag = 'x'): Promise<void> {
    const events = Array.from({ length: n }, (_, i) => ({
      eventId: `${tag}-${randomUUID()}`,
      provider: 'openai',
      model: 'gpt-seal',
      inputTokens: 100 + i,
      outputTokens: 7,
      cost: 0.0125,
      occurredAt: new Date(Date.now() - i * 1000).toISOString(),
    }));
    const res = await t.gql<{ recordComputeUsage: { accepted: number } }>(key, RECORD, { events });
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    expect(res.data.recordComputeUsage.accepted).toBe(n);
  }

  async function seal(adminKey: string): Promise<Seal | null> {
    const res = await t.gql<{ sealLedger: Seal | null }>(adminKey, SEAL);
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return res.data!.sealLedger;
  }

  async function verify(key: string, from?: number, to?: number): Promise<Verification> {
    const res = await t.gql<{ verifyLedger: Verification }>(key, VERIFY, { from, to });
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    return res.data.verifyLedger;
  }

  /** As the database superuser with triggers off (session_replication_role = replica). */
  async function tamper(sql: string, params: unknown[]): Promise<number> {
    await superuser.query('SET session_replication_role = replica');
    try {
      return (await superuser.query(sql, params)).rowCount ?? 0;
    } finally {
      await superuser.query('SET session_replication_role = DEFAULT');
    }
  }

  /** For each of the organization's rows, how many seals cover it by the seals' own snapshots. */
  async function coverage(organizationId: string): Promise<number[]> {
    const rows: { n: number }[] = await db.query(
      `SELECT (SELECT count(*)::int FROM ledger_seals s
               LEFT JOIN ledger_seals p ON p.organization_id = s.organization_id AND p.sequence = s.sequence - 1
               WHERE s.organization_id = e.organization_id AND pg_visible_in_snapshot(e.tx_id, s.snapshot)
                 AND (p.snapshot IS NULL OR NOT pg_visible_in_snapshot(e.tx_id, p.snapshot))) AS n
       FROM ledger_entries e WHERE e.organization_id = $1`,
      [organizationId],
    );
    return rows.map((r) => r.n);
  }

  it('seals what was recorded since the last seal, chained, and answers null when nothing was', async () => {
    const org = await tenant('seals-basic');
    expect(await seal(org.adminKey)).toBeNull();
    await record(org.client.key, 3);
    const first = (await seal(org.adminKey))!;
    expect(first).toMatchObject({ sequence: 1, rows: 3, previousDigest: '0'.repeat(64) });
    expect(first.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(first.firstRecordedAt!)).toBeLessThanOrEqual(Date.parse(first.lastRecordedAt!));
    expect(await seal(org.adminKey)).toBeNull();
    await record(org.client.key, 2);
    const second = (await seal(org.adminKey))!;
    expect(second).toMatchObject({ sequence: 2, rows: 2, previousDigest: first.digest });

    const listed = await t.gql<{ ledgerSeals: Seal[] }>(org.viewer.key, SEALS, {});
    expect(listed.data!.ledgerSeals.map((s) => s.sequence)).toEqual([2, 1]);
    expect((await t.gql<{ ledgerSeals: Seal[] }>(org.viewer.key, SEALS, { first: 1, after: 2 })).data!.ledgerSeals).toEqual([
      { sequence: 1, rows: 3, previousDigest: first.previousDigest, digest: first.digest },
    ]);
    expect(await verify(org.viewer.key)).toEqual({ ok: true, sealsChecked: 2, rowsChecked: 5, firstBrokenSeal: null, reason: null });
    expect(await verify(org.viewer.key, 2)).toMatchObject({ ok: true, sealsChecked: 1, rowsChecked: 2 });
  });

  it('lets only an ADMIN seal, ADMIN and VIEWER read and verify, and shows no organization the seals of another', async () => {
    const org = await tenant('seals-roles');
    const other = await tenant('seals-other');
    await record(org.client.key, 1);
    expect(codeOf(await t.gql(org.viewer.key, SEAL))).toBe('FORBIDDEN');
    expect(codeOf(await t.gql(org.client.key, SEAL))).toBe('FORBIDDEN');
    expect(codeOf(await t.gql(org.client.key, SEALS, {}))).toBe('FORBIDDEN');
    expect(codeOf(await t.gql(org.client.key, VERIFY, {}))).toBe('FORBIDDEN');
    await seal(org.adminKey);
    expect((await t.gql<{ ledgerSeals: Seal[] }>(other.adminKey, SEALS, {})).data!.ledgerSeals).toEqual([]);
    expect(await verify(other.viewer.key)).toMatchObject({ ok: true, sealsChecked: 0 });
    expect(codeOf(await t.gql(org.viewer.key, VERIFY, { from: 3, to: 2 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await t.gql(org.viewer.key, SEALS, { first: 0 }))).toBe('BAD_USER_INPUT');
  });

  it('puts every row in exactly one seal while 4 writers record and seals are made', async () => {
    const org = await tenant('seals-race');
    const writers = await Promise.all([0, 1, 2, 3].map((i) => t.principalWithKey(org.adminKey, 'CLIENT', { name: `writer-${i}`, kind: 'AGENT' })));
    let writing = true;
    const sealer = (async () => {
      let made = 0;
      while (writing) {
        if (await t.app.get(LedgerSealsService).seal(org.organizationId)) made += 1;
      }
      return made;
    })();
    await Promise.all(
      writers.map(async (w, i) => {
        for (let batch = 0; batch < 15; batch++) await record(w.key, 1 + ((batch + i) % 5), `w${i}`);
      }),
    );
    writing = false;
    const madeDuring = await sealer;
    await seal(org.adminKey);
    const [{ total }]: { total: number }[] = await db.query('SELECT count(*)::int AS total FROM ledger_entries WHERE organization_id = $1', [
      org.organizationId,
    ]);
    const seals = (await t.gql<{ ledgerSeals: Seal[] }>(org.adminKey, SEALS, { first: 500 })).data!.ledgerSeals;
    expect(madeDuring).toBeGreaterThan(1);
    expect(seals.reduce((sum, s) => sum + s.rows, 0)).toBe(total);
    expect(new Set(await coverage(org.organizationId))).toEqual(new Set([1]));
    expect(await verify(org.viewer.key)).toMatchObject({ ok: true, sealsChecked: seals.length, rowsChecked: total });
  });

  it('seals a row whose transaction commits while a seal is made in the next seal, not never', async () => {
    const org = await tenant('seals-open-tx');
    const work = await t.gql<{ upsertWorkUnit: { id: string } }>(org.client.key, 'mutation { upsertWorkUnit(input: { externalRef: "rfq-1" }) { id } }');
    const writer = t.app.get(ComputeLedgerWriter);
    await record(org.client.key, 1);
    const runner = db.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    // A writer's transaction is open, its row written, not committed, while a seal is made.
    const written = await writer.appendCompute(runner.manager, {
      organizationId: org.organizationId,
      principalId: org.client.principalId,
      rows: [
        {
          eventKey: `compute:slow-${randomUUID()}`,
          contentHash: 'slow',
          workUnitId: work.data!.upsertWorkUnit.id,
          provider: 'openai',
          model: 'gpt-slow',
          inputTokens: 5,
          cachedInputTokens: 0,
          outputTokens: 5,
          reasoningTokens: 0,
          cost: 0.5,
          occurredAt: new Date(),
        },
      ],
    });
    expect(written.size).toBe(1);
    const during = (await seal(org.adminKey))!;
    await runner.commitTransaction();
    await runner.release();
    const after = (await seal(org.adminKey))!;
    expect(during).toMatchObject({ sequence: 1, rows: 1 });
    expect(after).toMatchObject({ sequence: 2, rows: 1, previousDigest: during.digest });
    expect(await coverage(org.organizationId)).toEqual([1, 1]);
  });

  describe('finds what was changed outside tokenpool, at the right seal', () => {
    async function sealedThrice() {
      const org = await tenant(`seals-tamper-${randomUUID().slice(0, 6)}`);
      for (let i = 0; i < 3; i++) {
        await record(org.client.key, 2, `s${i}`);
        await seal(org.adminKey);
      }
      expect(await verify(org.viewer.key)).toMatchObject({ ok: true, sealsChecked: 3, rowsChecked: 6 });
      // The rows of seal 2, by their writers' transactions (the second recordComputeUsage).
      const rows: { id: string }[] = await db.query(
        `SELECT id::text FROM ledger_entries WHERE organization_id = $1 AND event_key LIKE 'compute:s1-%' ORDER BY id`,
        [org.organizationId],
      );
      return { org, sealTwoRows: rows.map((r) => r.id) };
    }

    it('a row changed with triggers off: DIGEST_MISMATCH at its seal', async () => {
      const { org, sealTwoRows } = await sealedThrice();
      expect(await tamper('UPDATE ledger_entries SET cost = cost * 10 WHERE id = $1', [sealTwoRows[0]])).toBe(1);
      expect(await verify(org.viewer.key)).toMatchObject({ ok: false, firstBrokenSeal: 2, reason: 'DIGEST_MISMATCH', sealsChecked: 2 });
      expect(await verify(org.viewer.key, 3)).toMatchObject({ ok: true, sealsChecked: 1 });
    });

    it('a row deleted: ROWS_MISSING at its seal', async () => {
      const { org, sealTwoRows } = await sealedThrice();
      expect(await tamper('DELETE FROM ledger_entries WHERE id = $1', [sealTwoRows[1]])).toBe(1);
      expect(await verify(org.adminKey)).toMatchObject({ ok: false, firstBrokenSeal: 2, reason: 'ROWS_MISSING' });
    });

    it("a seal's digest edited: DIGEST_MISMATCH at that seal", async () => {
      const { org } = await sealedThrice();
      await tamper(`UPDATE ledger_seals SET digest = repeat('a', 64) WHERE organization_id = $1 AND sequence = 3`, [org.organizationId]);
      expect(await verify(org.viewer.key)).toMatchObject({ ok: false, firstBrokenSeal: 3, reason: 'DIGEST_MISMATCH', sealsChecked: 3 });
    });

    it('a seal deleted, or its previousDigest edited: CHAIN_BROKEN', async () => {
      const { org } = await sealedThrice();
      await tamper(`UPDATE ledger_seals SET previous_digest = repeat('b', 64) WHERE organization_id = $1 AND sequence = 3`, [org.organizationId]);
      expect(await verify(org.viewer.key)).toMatchObject({ ok: false, firstBrokenSeal: 3, reason: 'CHAIN_BROKEN' });
      const second = await sealedThrice();
      await tamper('DELETE FROM ledger_seals WHERE organization_id = $1 AND sequence = 2', [second.org.organizationId]);
      expect(await verify(second.org.viewer.key)).toMatchObject({ ok: false, firstBrokenSeal: 2, reason: 'CHAIN_BROKEN' });
    });

    it("the worker's jobs: seals every organization with new rows; the daily check finds a break and sets the metric", async () => {
      const { org, sealTwoRows } = await sealedThrice();
      const metrics = new LedgerSealMetricsService(new MetricsService());
      const jobs = new LedgerSealJobsProcessor(t.app.get(LedgerSealsService), metrics);
      // The seal job's sealing of every organization with new rows, here limited to this one (other
      // test files' organizations are theirs to seal): the late row is sealed once, and only once.
      await record(org.client.key, 1, 'late');
      expect(await t.app.get(LedgerSealsService).sealAll({ organizationIds: [org.organizationId] })).toBe(1);
      expect(await t.app.get(LedgerSealsService).sealAll({ organizationIds: [org.organizationId] })).toBe(0);
      const seals = (await t.gql<{ ledgerSeals: Seal[] }>(org.adminKey, SEALS, { first: 1 })).data!.ledgerSeals;
      expect(seals[0]).toMatchObject({ sequence: 4, rows: 1 });

      await tamper('UPDATE ledger_entries SET input_tokens = input_tokens + 1 WHERE id = $1', [sealTwoRows[0]]);
      expect(await jobs.verifyRecent(new Date(Date.now() - 60_000))).toBeGreaterThanOrEqual(1);
      const broken = (await metrics.broken.get()).values.find((v) => v.labels.organization === org.organizationId);
      expect(broken?.value).toBe(1);
      expect((await metrics.verifications.get()).values.find((v) => v.labels.result === 'broken')?.value).toBeGreaterThanOrEqual(1);
    });
  });

  it('exports seals and rows that a few lines of Python (the docs) and a SHA-256 recompute', async () => {
    const org = await tenant('seals-export');
    await record(org.client.key, 4, 'a');
    await seal(org.adminKey);
    await record(org.client.key, 3, 'b');
    const last = (await seal(org.adminKey))!;
    await record(org.client.key, 2, 'unsealed');

    const res = await request(t.server)
      .get('/exports/ledger-audit.jsonl')
      .set('authorization', `Bearer ${org.viewer.key}`)
      .buffer(true)
      .parse(textParser)
      .expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/jsonl/);
    const text = res.body as string;
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(2 + 4 + 3);
    expect(JSON.parse(lines[0])).toMatchObject({ seal: 1, rows: 4, previousDigest: '0'.repeat(64) });
    expect(JSON.parse(lines[5])).toMatchObject({ seal: 2, rows: 3, digest: last.digest });
    const row = JSON.parse(lines[1]) as Record<string, string | null>;
    expect(Object.keys(row)[0]).toBe('id');
    expect(row).toMatchObject({ organization_id: org.organizationId, kind: 'COMPUTE', cost: '0.012500000', provider: 'openai' });
    // PostgreSQL's ISO text in UTC: the fraction as it prints it (trailing zeros dropped).
    expect(row.recorded_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,5}[1-9])?Z$/);
    const [{ recorded }]: { recorded: Date }[] = await db.query('SELECT recorded_at AS recorded FROM ledger_entries WHERE id = $1', [row.id]);
    expect(Math.abs(Date.parse(row.recorded_at!) - recorded.getTime())).toBeLessThanOrEqual(1);

    // By hand: SHA-256 over previousDigest and "\n" + each row line.
    const second = createHash('sha256')
      .update(JSON.parse(lines[5]).previousDigest)
      .update(
        lines
          .slice(6)
          .map((l) => `\n${l}`)
          .join(''),
      )
      .digest('hex');
    expect(second).toBe(last.digest);

    const dir = mkdtempSync(join(tmpdir(), 'tp-audit-'));
    const file = join(dir, 'audit.jsonl');
    writeFileSync(file, text);
    const recipe = join(dir, 'verify.py');
    writeFileSync(recipe, docsRecipe());
    expect(execFileSync('python3', [recipe, file], { encoding: 'utf8' })).toMatch(/2 seals, 7 rows: every digest matches/);
    // One changed character in a row, and the recipe names its seal.
    writeFileSync(file, text.replace('"input_tokens":"100"', '"input_tokens":"101"'));
    let failed = '';
    try {
      execFileSync('python3', [recipe, file], { encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      failed = String((err as { stdout: string }).stdout);
    }
    expect(failed).toMatch(/seal 1: digest mismatch/);

    // A range: the seals asked for only.
    const ranged = await request(t.server)
      .get('/exports/ledger-audit.jsonl?fromSequence=2&toSequence=2')
      .set('authorization', `Bearer ${org.adminKey}`)
      .buffer(true)
      .parse(textParser)
      .expect(200);
    expect((ranged.body as string).trimEnd().split('\n')).toEqual(lines.slice(5));
    const bad = await request(t.server).get('/exports/ledger-audit.jsonl?fromSequence=0').set('authorization', `Bearer ${org.adminKey}`).expect(400);
    expect(bad.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'fromSequence' });
    await request(t.server).get('/exports/ledger-audit.jsonl').set('authorization', `Bearer ${org.client.key}`).expect(403);
  });
});

function textParser(res: request.Response, callback: (err: Error | null, body: string) => void): void {
  let text = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => (text += chunk));
  res.on('end', () => callback(null, text));
}
