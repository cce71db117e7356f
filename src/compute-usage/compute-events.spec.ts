import { AppError } from '../common/errors/app-error';
import { ComputeEvent, dedupeBatch, prepareComputeEvent } from './compute-events';

const NOW = Date.parse('2026-06-15T12:00:00Z');
const limits = { now: NOW, maxFutureMs: 300_000, maxAgeMs: 400 * 86_400_000 };
const base: ComputeEvent = { eventId: 'e-1', provider: 'openai', model: 'gpt', inputTokens: 100, outputTokens: 20, occurredAt: new Date(NOW - 1000) };

function fieldOf(event: Partial<ComputeEvent>): string | undefined {
  try {
    prepareComputeEvent({ ...base, ...event }, 'events[4]', limits);
    return undefined;
  } catch (err) {
    return (err as AppError).extensions.field as string;
  }
}

describe('prepareComputeEvent', () => {
  it('turns a valid event into a row keyed compute:<eventId>, with optional counts at 0', () => {
    const row = prepareComputeEvent(base, 'events[0]', limits);
    expect(row).toMatchObject({ eventKey: 'compute:e-1', workUnitId: null, cachedInputTokens: 0, reasoningTokens: 0, cost: null, occurredAt: base.occurredAt });
    expect(row.contentHash).toHaveLength(22);
  });

  it('gives the same content the same hash, and other content another', () => {
    const a = prepareComputeEvent(base, 'events[0]', limits).contentHash;
    expect(prepareComputeEvent({ ...base }, 'events[9]', limits).contentHash).toBe(a);
    expect(prepareComputeEvent({ ...base, outputTokens: 21 }, 'events[0]', limits).contentHash).not.toBe(a);
    expect(prepareComputeEvent({ ...base, cost: 0 }, 'events[0]', limits).contentHash).not.toBe(a);
  });

  it.each([
    [{ inputTokens: -1 }, 'events[4].inputTokens'],
    [{ inputTokens: 1_000_000_001 }, 'events[4].inputTokens'],
    [{ outputTokens: Number.NaN }, 'events[4].outputTokens'],
    [{ outputTokens: 2.5 }, 'events[4].outputTokens'],
    [{ cachedInputTokens: 101 }, 'events[4].cachedInputTokens'],
    [{ reasoningOutputTokens: 21 }, 'events[4].reasoningOutputTokens'],
    [{ cost: Number.POSITIVE_INFINITY }, 'events[4].cost'],
    [{ cost: -1 }, 'events[4].cost'],
    [{ eventId: '' }, 'events[4].eventId'],
    [{ eventId: 'x'.repeat(256) }, 'events[4].eventId'],
    [{ eventId: 'a\nb' }, 'events[4].eventId'],
    [{ provider: '   ' }, 'events[4].provider'],
    [{ workUnitId: '' }, 'events[4].workUnitId'],
    [{ occurredAt: new Date(NOW + 301_000) }, 'events[4].occurredAt'],
    [{ occurredAt: new Date(NOW - 401 * 86_400_000) }, 'events[4].occurredAt'],
    [{ occurredAt: new Date(Number.NaN) }, 'events[4].occurredAt'],
  ])('refuses %j naming %s', (event, field) => {
    expect(fieldOf(event)).toBe(field);
  });

  it('accepts the bounds: 10^9 tokens, cached = input, 5 minutes ahead', () => {
    expect(fieldOf({ inputTokens: 1_000_000_000, cachedInputTokens: 1_000_000_000, occurredAt: new Date(NOW + 300_000) })).toBeUndefined();
  });
});

describe('dedupeBatch', () => {
  it('keeps the first of each event key, sorted by key, counting repeats as duplicates or conflicts', () => {
    const row = (id: string, outputTokens = 20) => prepareComputeEvent({ ...base, eventId: id, outputTokens }, 'events[0]', limits);
    const batch = dedupeBatch([row('b'), row('a'), row('b'), row('b', 99), row('c')]);
    expect(batch.rows.map((r) => r.eventKey)).toEqual(['compute:a', 'compute:b', 'compute:c']);
    expect(batch.rows[1].outputTokens).toBe(20);
    expect(batch).toMatchObject({ duplicates: 1, conflicts: 1, conflictingEventKeys: ['compute:b'] });
  });
});
