/**
 * The arithmetic of the outcome reports, apart from SQL so each rule has a unit spec. Every
 * share is 0 when its denominator is 0: "no spend" is reported as nothing burned, not NaN.
 */

export type BurnMaturityValue = 'INNOVATION_BURN' | 'OPERATIONAL_BURN' | 'PRODUCTIVE_BURN';

export interface BurnThresholds {
  /** Going-concern share of cost from which the burn is operational (0..1). */
  goingConcernShare: number;
  /** Outcome-linked share of going-concern cost from which operational burn is productive (0..1). */
  outcomeLinkedShare: number;
}

export interface BurnShares {
  goingConcernShare: number;
  outcomeLinkedShare: number;
  maturity: BurnMaturityValue;
}

export function share(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

/**
 * Shares and maturity from three costs: all of it, the going concern's, and the part of the
 * going concern's on accepted work units that carry a value.
 */
export function burnShares(costs: { total: number; goingConcern: number; outcomeLinked: number }, thresholds: BurnThresholds): BurnShares {
  const goingConcernShare = share(costs.goingConcern, costs.total);
  const outcomeLinkedShare = share(costs.outcomeLinked, costs.goingConcern);
  return { goingConcernShare, outcomeLinkedShare, maturity: maturityOf(goingConcernShare, outcomeLinkedShare, thresholds) };
}

/** Each threshold is inclusive: a share exactly at it reaches the next level. */
export function maturityOf(goingConcernShare: number, outcomeLinkedShare: number, thresholds: BurnThresholds): BurnMaturityValue {
  if (goingConcernShare < thresholds.goingConcernShare) return 'INNOVATION_BURN';
  if (outcomeLinkedShare < thresholds.outcomeLinkedShare) return 'OPERATIONAL_BURN';
  return 'PRODUCTIVE_BURN';
}

/** Cost per accepted outcome; null rather than Infinity when nothing was accepted. */
export function costPerAccepted(totalCost: number, accepted: number): number | null {
  return accepted > 0 ? totalCost / accepted : null;
}

/** Dearest first, then by key, so equal costs list in a stable order. */
export function byCostThenKey<T extends { totalCost: number; key: string }>(a: T, b: T): number {
  return b.totalCost - a.totalCost || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}
