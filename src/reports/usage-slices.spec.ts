import { computeSlices, creditSecondsOf, DenialPoint, DrawSpan, HOUR_MS, mergeInto, peakOf, UsageSlice } from './usage-slices';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5, 10); // an hour boundary

function draw(appId: string, credits: number, startMin: number, endMin: number, idle: DrawSpan['idle'] = null): DrawSpan {
  return { id: `${appId}-${startMin}`, appId, credits, start: T0 + startMin * MIN, end: T0 + endMin * MIN, idle };
}

function denial(
  appId: string,
  atMin: number,
  requested: number,
  falseDenial = false,
  reason: DenialPoint['reason'] = 'POOL_EXHAUSTED',
  count = 1,
): DenialPoint {
  return { appId, at: T0 + atMin * MIN, requested, reason, count, falseDenial };
}

function levels(slice: UsageSlice): Record<number, number> {
  return Object.fromEntries([...slice.levelSeconds.entries()].sort((a, b) => a[0] - b[0]));
}

describe('computeSlices', () => {
  it('cuts the window at hour boundaries, the first and last pieces partial', () => {
    const slices = computeSlices({ from: T0 + 30 * MIN, to: T0 + 150 * MIN, draws: [], denials: [], leaseCounts: [] });
    expect(slices.map((s) => [(s.start - T0) / MIN, (s.end - T0) / MIN])).toEqual([
      [30, 60],
      [60, 120],
      [120, 150],
    ]);
  });

  it('accounts the seconds at each level, split across hours', () => {
    // cad 20 credits from 0:30 to 1:30; viewer 6 credits from 0:45 to 0:50.
    const slices = computeSlices({ from: T0, to: T0 + 2 * HOUR_MS, draws: [draw('cad', 20, 30, 90), draw('viewer', 6, 45, 50)], denials: [], leaseCounts: [] });
    // First hour: 20 for 0:30-0:45 and 0:50-1:00 (25 min), 26 for 5 min; level 0 for the rest is implied.
    expect(levels(slices[0])).toEqual({ 20: 25 * 60, 26: 5 * 60 });
    expect(levels(slices[1])).toEqual({ 20: 30 * 60 });
    expect(peakOf(slices[0])).toBe(26);
    expect(creditSecondsOf(slices[0])).toBe(20 * 1500 + 26 * 300);
    expect(slices[0].apps.get('cad')).toMatchObject({ peak: 20, creditSeconds: 20 * 30 * 60 });
    expect(slices[1].apps.get('cad')).toMatchObject({ peak: 20, creditSeconds: 20 * 30 * 60 });
    expect(slices[0].apps.get('viewer')).toMatchObject({ peak: 6, creditSeconds: 6 * 5 * 60 });
  });

  it('counts a request at the level just after each opening, and a true denial at the level plus its ask', () => {
    const slices = computeSlices({
      from: T0,
      to: T0 + HOUR_MS,
      draws: [draw('cad', 20, 0, 40), draw('cad', 20, 10, 20)],
      denials: [denial('cad', 15, 20), denial('cad', 16, 20, true), denial('cad', 17, 20, false, 'GROUP_LIMIT_REACHED')],
      leaseCounts: [],
    });
    // Openings at levels 20 and 40; the POOL_EXHAUSTED denial at 40 + 20. The false one and the
    // team-ceiling one are no demand on the cap.
    expect(Object.fromEntries(slices[0].requestLevels)).toEqual({ 20: 1, 40: 1, 60: 1 });
    expect(slices[0].apps.get('cad')).toMatchObject({ denials: { POOL_EXHAUSTED: 2, GROUP_LIMIT_REACHED: 1, QUEUE_TIMEOUT: 0 }, falseDenials: 1 });
  });

  it('counts every refusal of a denial row: as denials, false denials and requests', () => {
    const slices = computeSlices({
      from: T0,
      to: T0 + HOUR_MS,
      draws: [draw('cad', 20, 0, 40)],
      denials: [
        denial('cad', 15, 20, false, 'POOL_EXHAUSTED', 50),
        denial('cad', 16, 20, true, 'QUEUE_TIMEOUT', 3),
        denial('cad', 17, 20, false, 'GROUP_LIMIT_REACHED', 2),
      ],
      leaseCounts: [],
    });
    expect(Object.fromEntries(slices[0].requestLevels)).toEqual({ 20: 1, 40: 50 });
    expect(slices[0].apps.get('cad')).toMatchObject({ denials: { POOL_EXHAUSTED: 50, GROUP_LIMIT_REACHED: 2, QUEUE_TIMEOUT: 3 }, falseDenials: 3 });
  });

  it('carries draws held before the window without counting them as requests', () => {
    const slices = computeSlices({ from: T0 + 60 * MIN, to: T0 + 120 * MIN, draws: [draw('cad', 20, 0, 90)], denials: [], leaseCounts: [] });
    expect(levels(slices[0])).toEqual({ 20: 30 * 60 });
    expect(slices[0].requestLevels.size).toBe(0);
  });

  it('frees credits before opening new draws at the same instant', () => {
    const slices = computeSlices({ from: T0, to: T0 + HOUR_MS, draws: [draw('cad', 20, 0, 30), draw('cad', 20, 30, 60)], denials: [], leaseCounts: [] });
    expect(levels(slices[0])).toEqual({ 20: 3600 });
    expect(peakOf(slices[0])).toBe(20);
  });

  it('ignores draws that held nothing for any time', () => {
    const slices = computeSlices({ from: T0, to: T0 + HOUR_MS, draws: [draw('cad', 20, 10, 10)], denials: [], leaseCounts: [] });
    expect(slices[0].levelSeconds.size).toBe(0);
    expect(slices[0].requestLevels.size).toBe(0);
  });

  it('puts the idle part of a draw in the hours where it fell', () => {
    const idle = [{ start: T0 + 50 * MIN, end: T0 + 90 * MIN, idle: [{ start: T0 + 55 * MIN, end: T0 + 70 * MIN }] }];
    const slices = computeSlices({ from: T0, to: T0 + 2 * HOUR_MS, draws: [draw('cad', 10, 50, 90, idle)], denials: [], leaseCounts: [] });
    expect(slices[0].apps.get('cad')?.idleCreditSeconds).toBe(10 * 5 * 60);
    expect(slices[1].apps.get('cad')?.idleCreditSeconds).toBe(10 * 10 * 60);
  });

  it('adds lease counts to the hour they were granted in', () => {
    const slices = computeSlices({
      from: T0 + 30 * MIN,
      to: T0 + 2 * HOUR_MS,
      draws: [],
      denials: [],
      leaseCounts: [
        { hour: T0, appId: 'cad', leases: 3, principals: 2 },
        { hour: T0 + HOUR_MS, appId: 'cad', leases: 1, principals: 1 },
      ],
    });
    expect(slices[0].apps.get('cad')).toMatchObject({ leases: 3, distinctPrincipals: 2 });
    expect(slices[1].apps.get('cad')).toMatchObject({ leases: 1, distinctPrincipals: 1 });
  });
});

describe('mergeInto', () => {
  it('sums levels, requests and app figures, and keeps the higher peak', () => {
    const [a, b] = computeSlices({ from: T0, to: T0 + 2 * HOUR_MS, draws: [draw('cad', 20, 30, 90), draw('cad', 20, 70, 80)], denials: [], leaseCounts: [] });
    mergeInto(a, b);
    expect(levels(a)).toEqual({ 20: 50 * 60, 40: 10 * 60 });
    expect(a.apps.get('cad')).toMatchObject({ peak: 40, creditSeconds: 20 * 60 * 60 + 20 * 10 * 60 });
    expect(Object.fromEntries(a.requestLevels)).toEqual({ 20: 1, 40: 1 });
    expect([a.start, a.end]).toEqual([T0, T0 + 2 * HOUR_MS]);
  });
});
