import { rollupSpan } from './rollup-span';

const d = (iso: string) => new Date(iso);

describe('rollupSpan', () => {
  it('keeps a window aligned on UTC midnights whole', () => {
    expect(rollupSpan(d('2026-11-01T00:00:00Z'), d('2026-11-04T00:00:00Z'))).toEqual({ start: d('2026-11-01T00:00:00Z'), end: d('2026-11-04T00:00:00Z') });
  });

  it('leaves the partial days at both edges to the raw rows', () => {
    expect(rollupSpan(d('2026-11-01T06:30:00Z'), d('2026-11-04T18:00:00.001Z'))).toEqual({ start: d('2026-11-02T00:00:00Z'), end: d('2026-11-04T00:00:00Z') });
  });

  it('reads a window inside one day raw', () => {
    expect(rollupSpan(d('2026-11-01T06:00:00Z'), d('2026-11-01T18:00:00Z'))).toEqual({ start: d('2026-11-01T18:00:00Z'), end: d('2026-11-01T18:00:00Z') });
  });

  it('reads a window across one midnight but holding no whole day raw', () => {
    expect(rollupSpan(d('2026-11-01T06:00:00Z'), d('2026-11-02T18:00:00Z'))).toEqual({ start: d('2026-11-02T18:00:00Z'), end: d('2026-11-02T18:00:00Z') });
  });

  it('uses the one whole day between two partial ones', () => {
    expect(rollupSpan(d('2026-11-01T23:59:59.999Z'), d('2026-11-03T00:00:00.001Z'))).toEqual({
      start: d('2026-11-02T00:00:00Z'),
      end: d('2026-11-03T00:00:00Z'),
    });
  });
});
