import { checkCap, groupDraws, PastLease } from './history-draws';

const S = 1000;

function lease(over: Partial<PastLease> & { start: number; end: number }): PastLease {
  return {
    appId: 'cad',
    principalId: 'ann',
    host: 'ws-1',
    workUnitId: null,
    shareScope: 'NONE',
    lingerSeconds: 0,
    cost: 20,
    ...over,
    start: over.start * S,
    end: over.end * S,
  };
}

describe('groupDraws', () => {
  it('gives every lease its own draw when the app does not share', () => {
    const draws = groupDraws([lease({ start: 0, end: 100 }), lease({ start: 10, end: 50 })]);
    expect(draws.map((d) => [d.opener, d.credits, d.start / S, d.end / S])).toEqual([
      [0, 20, 0, 100],
      [1, 20, 10, 50],
    ]);
  });

  it('lets overlapping leases of one principal share one draw, held until the last one ends', () => {
    const draws = groupDraws([
      lease({ start: 10, end: 50, shareScope: 'PRINCIPAL' }),
      lease({ start: 0, end: 30, shareScope: 'PRINCIPAL' }),
      lease({ start: 20, end: 40, principalId: 'bob', shareScope: 'PRINCIPAL' }),
    ]);
    expect(draws).toEqual([
      { appId: 'cad', credits: 20, opener: 1, leases: [1, 0], start: 0, end: 50 * S },
      { appId: 'cad', credits: 20, opener: 2, leases: [2], start: 20 * S, end: 40 * S },
    ]);
  });

  it('keeps the draw through linger, so a reopen within it joins and extends it', () => {
    const draws = groupDraws([
      lease({ start: 0, end: 10, shareScope: 'PRINCIPAL', lingerSeconds: 30 }),
      lease({ start: 35, end: 60, shareScope: 'PRINCIPAL', lingerSeconds: 30 }),
      lease({ start: 100, end: 110, shareScope: 'PRINCIPAL', lingerSeconds: 30 }),
    ]);
    expect(draws.map((d) => [d.leases, d.start / S, d.end / S])).toEqual([
      [[0, 1], 0, 90],
      [[2], 100, 140],
    ]);
  });

  it('lets the sub-agents of one work unit share a draw with WORK_UNIT, and never without a work unit', () => {
    const draws = groupDraws([
      lease({ start: 0, end: 50, shareScope: 'WORK_UNIT', workUnitId: 'run-1' }),
      lease({ start: 10, end: 60, shareScope: 'WORK_UNIT', workUnitId: 'run-1', principalId: 'agent-2' }),
      lease({ start: 10, end: 20, shareScope: 'WORK_UNIT' }),
      lease({ start: 10, end: 20, shareScope: 'WORK_UNIT' }),
    ]);
    expect(draws.map((d) => d.leases)).toEqual([[0, 1], [2], [3]]);
  });

  it('shares by host with PRINCIPAL_HOST', () => {
    const draws = groupDraws([
      lease({ start: 0, end: 50, shareScope: 'PRINCIPAL_HOST' }),
      lease({ start: 10, end: 20, shareScope: 'PRINCIPAL_HOST', host: 'ws-2' }),
    ]);
    expect(draws).toHaveLength(2);
  });
});

describe('checkCap', () => {
  it('accepts draws that fit under the cap in force, counting recorded ones', () => {
    const added = groupDraws([lease({ start: 10, end: 20, cost: 5 })]);
    const result = checkCap({
      existing: [{ start: 0, end: 100 * S, credits: 5 }],
      added,
      changes: [{ at: 0, cap: 10 }],
      fallbackCap: 10,
      instants: [15 * S, 50 * S],
    });
    expect(result).toEqual({ violation: null, available: [0, 5] });
  });

  it('names the first draw that would have opened above the cap', () => {
    const added = groupDraws([lease({ start: 10, end: 20, cost: 6 }), lease({ start: 30, end: 40, cost: 6 })]);
    // The cap drops to 10 at 25 s: the second draw opens at 5 + 6 = 11 credits.
    const result = checkCap({
      existing: [{ start: 0, end: 100 * S, credits: 5 }],
      added,
      changes: [
        { at: 0, cap: 20 },
        { at: 25 * S, cap: 10 },
      ],
      fallbackCap: 20,
      instants: [],
    });
    expect(result.violation).toEqual({ draw: 1, at: 30 * S, level: 11, cap: 10 });
  });

  it('lets a draw open when another ends at that instant', () => {
    const added = groupDraws([lease({ start: 0, end: 10, cost: 10 }), lease({ start: 10, end: 20, cost: 10 })]);
    expect(checkCap({ existing: [], added, changes: [{ at: 0, cap: 10 }], fallbackCap: 10, instants: [] }).violation).toBeNull();
  });
});
