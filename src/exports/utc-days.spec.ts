import { focusPeriods, utcDays } from './utc-days';

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

describe('focusPeriods', () => {
  it('gives the UTC day and its calendar month, to the second', () => {
    expect(focusPeriods(d('2026-11-30T18:00:00Z'))).toEqual({
      billingPeriodStart: '2026-11-01T00:00:00Z',
      billingPeriodEnd: '2026-12-01T00:00:00Z',
      chargePeriodStart: '2026-11-30T00:00:00Z',
      chargePeriodEnd: '2026-12-01T00:00:00Z',
    });
  });

  it('rolls the billing period over the year', () => {
    expect(focusPeriods(d('2026-12-31T00:00:00Z'))).toMatchObject({ billingPeriodEnd: '2027-01-01T00:00:00Z', chargePeriodEnd: '2027-01-01T00:00:00Z' });
  });
});
