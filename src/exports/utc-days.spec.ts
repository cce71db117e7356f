import { utcDays } from './utc-days';

const d = (iso: string) => new Date(iso);

describe('utcDays', () => {
  it('cuts a window at each UTC midnight, clipping the first and last day', () => {
    expect(utcDays(d('2026-11-01T18:00:00Z'), d('2026-11-03T06:00:00Z'))).toEqual([
      { from: d('2026-11-01T18:00:00Z'), to: d('2026-11-02T00:00:00Z') },
      { from: d('2026-11-02T00:00:00Z'), to: d('2026-11-03T00:00:00Z') },
      { from: d('2026-11-03T00:00:00Z'), to: d('2026-11-03T06:00:00Z') },
    ]);
  });

  it('gives whole days for a window on midnights, and one piece for a window inside a day', () => {
    expect(utcDays(d('2026-11-01T00:00:00Z'), d('2026-11-03T00:00:00Z'))).toHaveLength(2);
    expect(utcDays(d('2026-11-01T01:00:00Z'), d('2026-11-01T02:00:00Z'))).toEqual([{ from: d('2026-11-01T01:00:00Z'), to: d('2026-11-01T02:00:00Z') }]);
  });
});
