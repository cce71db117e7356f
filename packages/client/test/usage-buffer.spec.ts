import { TokenpoolError } from '../src/errors';
import type { ComputeUsageInput } from '../src/generated/graphql';
import { UsageBuffer } from '../src/usage-buffer';

const event = (i: number) => ({ provider: 'openai', model: 'gpt', inputTokens: i, outputTokens: 1 });

describe('UsageBuffer', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  function setup(fail: (batch: ComputeUsageInput[], call: number) => Error | undefined = () => undefined) {
    const sent: ComputeUsageInput[][] = [];
    const errors: TokenpoolError[] = [];
    let calls = 0;
    const buffer = new UsageBuffer({
      send: async (events) => {
        const err = fail(events, calls++);
        sent.push(events);
        if (err) throw err;
      },
      onError: (err) => errors.push(err),
    });
    return { buffer, sent, errors };
  }

  it('assigns an eventId and occurredAt when buffered, and sends within a second', async () => {
    const { buffer, sent } = setup();
    const id = buffer.add(event(1));
    const given = buffer.add({ ...event(2), eventId: 'mine', occurredAt: new Date(0) });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(given).toBe('mine');
    await jest.advanceTimersByTimeAsync(999);
    expect(sent).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(sent).toHaveLength(1);
    expect(sent[0].map((e) => e.eventId)).toEqual([id, 'mine']);
    expect(sent[0][0].occurredAt).toBe(new Date(1_000_000).toISOString());
    expect(sent[0][1].occurredAt).toBe('1970-01-01T00:00:00.000Z');
    expect(buffer.pending).toBe(0);
  });

  it('sends a full batch of 1,000 at once, and the rest later', async () => {
    const { buffer, sent } = setup();
    for (let i = 0; i < 1_200; i++) buffer.add(event(i));
    await jest.advanceTimersByTimeAsync(0);
    expect(sent.map((b) => b.length)).toEqual([1_000]);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(sent.map((b) => b.length)).toEqual([1_000, 200]);
  });

  it('resends a failed batch with the same eventIds until it is acknowledged', async () => {
    const { buffer, sent } = setup((_, call) => (call < 3 ? new TokenpoolError('UNAVAILABLE', 'down') : undefined));
    for (let i = 0; i < 5; i++) buffer.add(event(i));
    const flushed = buffer.flush(Date.now() + 30_000);
    await jest.advanceTimersByTimeAsync(10_000);
    await flushed;
    expect(sent).toHaveLength(4);
    const ids = sent.map((b) => b.map((e) => e.eventId).join());
    expect(new Set(ids).size).toBe(1);
    expect(buffer.pending).toBe(0);
  });

  it('drops only the event the server refuses, and reports it', async () => {
    const bad = new TokenpoolError('BAD_USER_INPUT', 'inputTokens must be at least 0', { extensions: { field: 'events[1].inputTokens' } });
    const { buffer, sent, errors } = setup((batch) => (batch.some((e) => e.inputTokens < 0) ? bad : undefined));
    buffer.add(event(1));
    buffer.add(event(-1));
    buffer.add(event(3));
    const flushed = buffer.flush(Date.now() + 30_000);
    await jest.advanceTimersByTimeAsync(100);
    await flushed;
    expect(errors).toEqual([bad]);
    expect(sent.at(-1)?.map((e) => e.inputTokens)).toEqual([1, 3]);
  });

  it('rejects a flush at its deadline and keeps the events', async () => {
    const { buffer } = setup(() => new TokenpoolError('UNAVAILABLE', 'down'));
    buffer.add(event(1));
    const flushed = buffer.flush(Date.now() + 2_000).catch((err: unknown) => err);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(await flushed).toMatchObject({ code: 'UNAVAILABLE' });
    expect(buffer.pending).toBe(1);
    buffer.stop();
  });
});
