import { parseConfig } from '../config/env';
import { burnShares, byCostThenKey, costPerAccepted, maturityOf, share } from './burn-math';

const HALF = { goingConcernShare: 0.5, outcomeLinkedShare: 0.5 };

describe('burn shares and maturity', () => {
  it('is innovation burn while under half the cost is in the going concern', () => {
    expect(burnShares({ total: 100, goingConcern: 49, outcomeLinked: 49 }, HALF)).toEqual({
      goingConcernShare: 0.49,
      outcomeLinkedShare: 1,
      maturity: 'INNOVATION_BURN',
    });
  });

  it('is operational burn from exactly half in the going concern when under half of that is outcome-linked', () => {
    expect(burnShares({ total: 80, goingConcern: 40, outcomeLinked: 10 }, HALF)).toEqual({
      goingConcernShare: 0.5,
      outcomeLinkedShare: 0.25,
      maturity: 'OPERATIONAL_BURN',
    });
  });

  it('is productive burn when exactly half of the going-concern cost is outcome-linked', () => {
    expect(burnShares({ total: 60, goingConcern: 40, outcomeLinked: 20 }, HALF)).toEqual({
      goingConcernShare: 40 / 60,
      outcomeLinkedShare: 0.5,
      maturity: 'PRODUCTIVE_BURN',
    });
  });

  it('answers 0 shares, and innovation burn, when nothing was spent', () => {
    expect(burnShares({ total: 0, goingConcern: 0, outcomeLinked: 0 }, HALF)).toEqual({
      goingConcernShare: 0,
      outcomeLinkedShare: 0,
      maturity: 'INNOVATION_BURN',
    });
  });

  it('follows other thresholds', () => {
    const strict = { goingConcernShare: 0.8, outcomeLinkedShare: 0.9 };
    expect(maturityOf(0.75, 1, strict)).toBe('INNOVATION_BURN');
    expect(maturityOf(0.8, 0.89, strict)).toBe('OPERATIONAL_BURN');
    expect(maturityOf(0.8, 0.9, strict)).toBe('PRODUCTIVE_BURN');
  });
});

describe('coverage and cost per outcome', () => {
  it('divides, and answers 0 for a share of nothing', () => {
    expect(share(30, 120)).toBe(0.25);
    expect(share(0, 0)).toBe(0);
  });

  it('answers null cost per outcome when none was accepted', () => {
    expect(costPerAccepted(90, 3)).toBe(30);
    expect(costPerAccepted(90, 0)).toBeNull();
  });

  it('orders groups dearest first, ties by key', () => {
    const groups = [
      { key: 'b', totalCost: 5 },
      { key: '', totalCost: 9 },
      { key: 'a', totalCost: 5 },
    ];
    expect(groups.sort(byCostThenKey).map((g) => g.key)).toEqual(['', 'a', 'b']);
  });
});

describe('burn thresholds from the environment', () => {
  it('default to 50% and read whole percents', () => {
    expect(parseConfig({}).burnThresholds).toEqual({ goingConcernShare: 0.5, outcomeLinkedShare: 0.5 });
    expect(parseConfig({ BURN_GOING_CONCERN_PERCENT: '60', BURN_OUTCOME_LINKED_PERCENT: '75' }).burnThresholds).toEqual({
      goingConcernShare: 0.6,
      outcomeLinkedShare: 0.75,
    });
  });

  it('refuse a percent outside 0 to 100', () => {
    expect(() => parseConfig({ BURN_GOING_CONCERN_PERCENT: '101' })).toThrow(/BURN_GOING_CONCERN_PERCENT must be a whole number from 0 to 100/);
  });
});
