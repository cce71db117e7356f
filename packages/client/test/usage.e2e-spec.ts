import { TokenpoolClient } from '@tokenpool/client';
import { ApiProcess, startApi, waitFor } from '../../../test/support/processes';
import { countingClient, newOrganization, portOf, startSwitchableProxy } from './fixtures';

const WORK_UNIT = 'query($id: ID!) { workUnit(id: $id) { computeInputTokens computeOutputTokens } }';

/**
 * Promise 4 through the SDK: compute events recorded while the API process is stopped and
 * started again (same database and Redis) are each counted exactly once once close() resolves. The process is
 * killed (SIGKILL), so a batch may be recorded and its answer lost: its resend must carry the
 * same eventIds.
 */
describe('SDK recordUsage across an API restart', () => {
  const apis: ApiProcess[] = [];

  afterAll(async () => {
    await Promise.all(apis.map((a) => a.stop()));
  });

  it('counts every buffered event exactly once', async () => {
    const [first, adminKey] = await Promise.all([startApi(), newOrganization()]);
    apis.push(first);
    const proxy = await startSwitchableProxy(portOf(first.url));
    const { client, sent, failed } = countingClient({ url: proxy.url, apiKey: adminKey, retryDeadlineMs: 45_000 }, 'recordComputeUsage');
    const workUnit = await client.upsertWorkUnit({ externalRef: `usage-${Date.now()}`, process: 'sdk-test' });
    proxy.dropNextAnswers(1); // the first batch is recorded and its answer lost: resent, it must not count twice

    let recorded = 0;
    let recording = true;
    const eventIds = new Set<string>();
    const recorder = (async () => {
      while (recording) {
        for (let i = 0; i < 20; i++) {
          eventIds.add(client.recordUsage({ workUnitId: workUnit.id, provider: 'openai', model: 'gpt-sdk', inputTokens: 1, outputTokens: 2 }));
          recorded++;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    // Batches went out before the stop, the first of them twice (waited for, not timed: a
    // loaded machine only slows this down).
    await waitFor(async () => sent.length >= 2, 'two batches sent before the stop');
    // Killed, not stopped: a batch in flight may be committed without its answer reaching the client.
    first.signal('SIGKILL');
    await first.exited;
    await waitFor(async () => failed() >= 1, 'a send failing while nothing answers');
    const second = await startApi();
    apis.push(second);
    proxy.retarget(portOf(second.url));
    await new Promise((r) => setTimeout(r, 1_500));
    recording = false;
    await recorder;
    await client.close();
    await proxy.close();

    expect(eventIds.size).toBe(recorded);
    const reader = new TokenpoolClient({ url: second.url, apiKey: adminKey });
    const { workUnit: totals } = await reader.request<{ workUnit: { computeInputTokens: number; computeOutputTokens: number } }>(WORK_UNIT, {
      id: workUnit.id,
    });
    expect(totals).toEqual({ computeInputTokens: recorded, computeOutputTokens: 2 * recorded });
    await reader.close();
  });
});
