import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { TestApp } from './support/app';
import { ApiProcess, startApi } from './support/processes';

const RECORD = 'mutation($events: [ComputeUsageInput!]!) { recordComputeUsage(events: $events) { accepted duplicates conflicts } }';
const SENDERS = 3;
const BATCH = 200;
const KILL_AFTER_ACKS = 20;

interface Batch {
  events: {
    eventId: string;
    workUnitId: string;
    provider: string;
    model: string;
    inputTokens: number;
    outputTokens: number;
    cachedInputTokens: number;
    occurredAt: string;
  }[];
  acknowledged: boolean;
}

/**
 * Promise 4 for compute usage: an acknowledged event is in the ledger, also when the API
 * process is killed (SIGKILL, by its pid) while batches stream in. The client keeps what it
 * saw acknowledged; after a restart, the ledger must hold every acknowledged event exactly
 * as sent, and replaying the unacknowledged batches must leave each event exactly once.
 */
describe('compute usage survives a SIGKILL of the API mid-stream', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let api: ApiProcess | undefined;

  beforeAll(async () => {
    t = await TestApp.start();
    dataSource = t.app.get(DataSource);
  });

  afterAll(async () => {
    await api?.stop();
    await t.close();
  });

  it('keeps every acknowledged event, row for row, and counts replays of the rest once', async () => {
    const org = await t.organization('durability');
    const client = await t.principalWithKey(org.adminKey, 'CLIENT', { kind: 'AGENT' });
    const workUnitId = (await t.gql<{ upsertWorkUnit: { id: string } }>(client.key, 'mutation { upsertWorkUnit(input: { externalRef: "stream" }) { id } }'))
      .data!.upsertWorkUnit.id;
    const makeBatch = (): Batch => ({
      acknowledged: false,
      events: Array.from({ length: BATCH }, (_, i) => ({
        eventId: randomUUID(),
        workUnitId,
        provider: 'openai',
        model: `m-${i % 7}`,
        inputTokens: 1 + Math.floor(Math.random() * 100_000),
        outputTokens: Math.floor(Math.random() * 5000),
        cachedInputTokens: 0,
        occurredAt: new Date(Date.now() - Math.floor(Math.random() * 60_000)).toISOString(),
      })),
    });

    const first = await startApi();
    api = first;
    const batches: Batch[] = [];
    let acks = 0;
    let killed = false;
    const sender = async () => {
      for (;;) {
        const batch = makeBatch();
        batches.push(batch);
        try {
          const res = await first.gql(client.key, RECORD, { events: batch.events });
          const result = res.body.data?.recordComputeUsage as { accepted: number } | undefined;
          if (res.status !== 200 || result?.accepted !== BATCH) return;
          batch.acknowledged = true;
        } catch {
          return; // the process is gone: this batch was not acknowledged
        }
        acks += 1;
        if (acks >= KILL_AFTER_ACKS && !killed) {
          killed = true;
          first.signal('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: SENDERS }, sender));
    await first.exited;
    expect(killed).toBe(true);
    const acknowledged = batches.filter((b) => b.acknowledged);
    const unacknowledged = batches.filter((b) => !b.acknowledged);
    expect(acknowledged.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    expect(unacknowledged.length).toBeGreaterThan(0); // batches were in flight when it died

    // Acknowledged ⊆ ledger, row for row.
    const sent = acknowledged.flatMap((b) => b.events);
    const rows: { event_key: string; work_unit_id: string; provider: string; model: string; input_tokens: string; output_tokens: string; occurred_at: Date }[] =
      await dataSource.query(
        `SELECT event_key, work_unit_id, provider, model, input_tokens, output_tokens, occurred_at FROM ledger_entries
       WHERE organization_id = $1 AND event_key = ANY($2)`,
        [org.organizationId, sent.map((e) => `compute:${e.eventId}`)],
      );
    const byKey = new Map(rows.map((r) => [r.event_key, r]));
    const missingOrWrong = sent.filter((e) => {
      const row = byKey.get(`compute:${e.eventId}`);
      return (
        !row ||
        row.work_unit_id !== e.workUnitId ||
        row.model !== e.model ||
        Number(row.input_tokens) !== e.inputTokens ||
        Number(row.output_tokens) !== e.outputTokens ||
        row.occurred_at.toISOString() !== e.occurredAt
      );
    });
    expect(missingOrWrong).toEqual([]);
    expect(rows).toHaveLength(sent.length);

    // Replaying what was not acknowledged, to a restarted API, records each event exactly once.
    const second = await startApi();
    api = second;
    for (const batch of unacknowledged) {
      const res = await second.gql(client.key, RECORD, { events: batch.events });
      const result = res.body.data?.recordComputeUsage as { accepted: number; duplicates: number; conflicts: number };
      expect(result.accepted + result.duplicates).toBe(BATCH);
      expect(result.conflicts).toBe(0);
    }
    const [counts]: { rows: number; keys: number }[] = await dataSource.query(
      'SELECT count(*)::int AS rows, count(DISTINCT event_key)::int AS keys FROM ledger_entries WHERE organization_id = $1',
      [org.organizationId],
    );
    expect(counts).toEqual({ rows: batches.length * BATCH, keys: batches.length * BATCH });
    const totals = await t.gql<{ workUnit: { computeInputTokens: number } }>(client.key, 'query($id: ID!) { workUnit(id: $id) { computeInputTokens } }', {
      id: workUnitId,
    });
    expect(totals.data?.workUnit.computeInputTokens).toBe(batches.flatMap((b) => b.events).reduce((sum, e) => sum + e.inputTokens, 0));
  });
});
