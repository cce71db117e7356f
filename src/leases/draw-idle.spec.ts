import { heldWhileIdleMs } from './draw-idle';

describe('heldWhileIdleMs', () => {
  it('counts the idle intervals of a lone lease, clipped to the draw', () => {
    const spans = [
      {
        start: 0,
        end: 100,
        idle: [
          { start: 10, end: 30 },
          { start: 90, end: 120 },
        ],
      },
    ];
    expect(heldWhileIdleMs(spans, 0, 100)).toBe(30);
  });

  it('counts only the time when every live lease of a shared draw is idle', () => {
    const spans = [
      { start: 0, end: 100, idle: [{ start: 0, end: 60 }] },
      { start: 20, end: 50, idle: [{ start: 40, end: 50 }] },
    ];
    // 0-20: only the first, idle (20); 20-40: second active (0); 40-50: both idle (10); 50-60: first idle (10).
    expect(heldWhileIdleMs(spans, 0, 100)).toBe(40);
  });

  it('does not count linger, when no lease is live', () => {
    const spans = [{ start: 0, end: 50, idle: [{ start: 0, end: 50 }] }];
    expect(heldWhileIdleMs(spans, 0, 80)).toBe(50);
  });

  it('is zero without idle reports', () => {
    expect(heldWhileIdleMs([{ start: 0, end: 50, idle: [] }], 0, 50)).toBe(0);
  });
});
