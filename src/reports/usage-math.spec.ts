import { bucketStarts, capAt, capSeconds, levelShares, suggestCap, timeWeightedPercentile } from './usage-math';

describe('cap over time', () => {
  const changes = [
    { at: 1000, cap: 10 },
    { at: 5000, cap: 4 },
  ];

  it('is the last change at or before the instant, the first cap before any change', () => {
    expect(capAt(changes, 0, 99)).toBe(10);
    expect(capAt(changes, 4999, 99)).toBe(10);
    expect(capAt(changes, 5000, 99)).toBe(4);
    expect(capAt([], 5000, 99)).toBe(99);
  });

  it('integrates the cap in force at each instant', () => {
    // 10 credits for 4 s (1..5 s), then 4 credits for 3 s (5..8 s).
    expect(capSeconds(changes, 1000, 8000, 99)).toBe(40 + 12);
    expect(capSeconds(changes, 0, 2000, 99)).toBe(20);
    expect(capSeconds(changes, 6000, 7000, 99)).toBe(4);
  });
});

describe('levels over time', () => {
  it('gives level 0 the time left over', () => {
    expect(
      levelShares(
        new Map([
          [20, 30],
          [5, 10],
        ]),
        100,
      ),
    ).toEqual([
      { level: 0, seconds: 60 },
      { level: 5, seconds: 10 },
      { level: 20, seconds: 30 },
    ]);
  });

  it('takes the time-weighted 95th percentile, not the peak', () => {
    // 90 s at 0, 6 s at 10, 4 s at 50: 95 % of the time is reached at level 10.
    const shares = levelShares(
      new Map([
        [10, 6],
        [50, 4],
      ]),
      100,
    );
    expect(timeWeightedPercentile(shares, 100, 0.95)).toBe(10);
    expect(timeWeightedPercentile(shares, 100, 0.97)).toBe(50);
    expect(timeWeightedPercentile(shares, 100, 0.9)).toBe(0);
    expect(timeWeightedPercentile([], 0, 0.95)).toBe(0);
  });
});

describe('suggestCap', () => {
  const requestLevels = new Map([
    [10, 5],
    [20, 3],
    [45, 1],
    [60, 1],
  ]);

  it('is the highest level a request needed, with no tolerance', () => {
    expect(suggestCap({ requestLevels, tolerance: 0, dearestCost: 5 })).toBe(60);
  });

  it('may refuse up to the tolerated share of the requests', () => {
    // 10 requests: 10 % may refuse one (the one at 60), 20 % two.
    expect(suggestCap({ requestLevels, tolerance: 0.1, dearestCost: 5 })).toBe(45);
    expect(suggestCap({ requestLevels, tolerance: 0.2, dearestCost: 5 })).toBe(20);
    expect(suggestCap({ requestLevels, tolerance: 0.19, dearestCost: 5 })).toBe(45);
  });

  it('is never below the dearest app cost, also without any request', () => {
    expect(suggestCap({ requestLevels, tolerance: 0.5, dearestCost: 50 })).toBe(50);
    expect(suggestCap({ requestLevels: new Map(), tolerance: 0, dearestCost: 21 })).toBe(21);
  });
});

describe('bucketStarts', () => {
  it('aligns buckets on the unit and covers the window', () => {
    expect(bucketStarts(90, 310, 100)).toEqual([0, 100, 200, 300]);
    expect(bucketStarts(100, 300, 100)).toEqual([100, 200]);
  });
});
