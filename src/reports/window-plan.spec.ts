import { DAY_MS, HOUR_MS } from './usage-slices';
import { planWindow } from './window-plan';

const D = Date.UTC(2026, 0, 5);
const h = (hours: number, minutes = 0) => D + hours * HOUR_MS + minutes * 60_000;
const shape = (parts: ReturnType<typeof planWindow>) => parts.map((p) => [p.kind, (p.from - D) / HOUR_MS, (p.to - D) / HOUR_MS]);

describe('planWindow', () => {
  it('reads everything raw without rollups', () => {
    expect(shape(planWindow(h(1), h(5), null, true))).toEqual([['raw', 1, 5]]);
  });

  it('reads whole days, then whole hours, from rollups, and the partial edges and the tail raw', () => {
    const cursor = { coveredFrom: D - DAY_MS, coveredUntil: h(50) };
    expect(shape(planWindow(h(-2, -30), h(52), cursor, true))).toEqual([
      ['raw', -2.5, -2],
      ['HOUR', -2, 0],
      ['DAY', 0, 48],
      ['HOUR', 48, 50],
      ['raw', 50, 52],
    ]);
  });

  it('uses hour rows only when days are not wanted', () => {
    const cursor = { coveredFrom: D, coveredUntil: h(72) };
    expect(shape(planWindow(h(0), h(48, 30), cursor, false))).toEqual([
      ['HOUR', 0, 48],
      ['raw', 48, 48.5],
    ]);
  });

  it('reads a window inside one covered hour raw, exactly', () => {
    const cursor = { coveredFrom: D, coveredUntil: h(10) };
    expect(shape(planWindow(h(2, 5), h(2, 20), cursor, true))).toEqual([['raw', 2 + 5 / 60, 2 + 20 / 60]]);
  });

  it('reads nothing before the coverage starts: the pool had no data then', () => {
    const cursor = { coveredFrom: h(5), coveredUntil: h(10) };
    expect(shape(planWindow(h(0), h(8), cursor, true))).toEqual([['HOUR', 5, 8]]);
    expect(shape(planWindow(h(0), h(3), cursor, true))).toEqual([]);
  });
});
