import { checkHistory, GrantRecord, History, peakHeld } from '../support/history-checker';

function grant(leaseId: string, credits: number, fencingToken: string, requestedAt: number, acknowledgedAt: number, team: string | null = null): GrantRecord {
  return { leaseId, poolId: 'p', team, credits, fencingToken, requestedAt, acknowledgedAt };
}

const valid: History = {
  grants: [grant('a', 6, '1000000000001', 0, 10), grant('b', 4, '1000000000002', 5, 12), grant('c', 6, '1000000000003', 30, 40)],
  ends: [
    { leaseId: 'a', releaseStartedAt: 35, lastKnownExpiresAt: 10_000 },
    { leaseId: 'b', releaseStartedAt: null, lastKnownExpiresAt: 100 },
  ],
};

describe('history checker', () => {
  it('accepts a history that never holds more than the cap', () => {
    expect(checkHistory(valid, { poolId: 'p', cap: 10 })).toEqual([]);
  });

  it('finds one over-cap instant', () => {
    const overlapping: History = { ...valid, ends: [{ leaseId: 'a', releaseStartedAt: 45, lastKnownExpiresAt: 10_000 }, ...valid.ends.slice(1)] };
    const violations = checkHistory(overlapping, { poolId: 'p', cap: 10 });
    expect(violations.map((v) => v.kind)).toEqual(['OVER_CAP']);
    expect(violations[0].detail).toContain('16 credits');
  });

  it('finds a repeated fencing token', () => {
    const repeated: History = { ...valid, grants: [...valid.grants.slice(0, 2), grant('c', 6, '1000000000002', 30, 40)] };
    expect(checkHistory(repeated, { poolId: 'p', cap: 10 }).map((v) => v.kind)).toContain('DUPLICATE_FENCING_TOKEN');
  });

  it('finds a fencing token lower than one acknowledged before the request', () => {
    const backwards: History = { ...valid, grants: [grant('a', 1, '2000000000005', 0, 10), grant('c', 1, '2000000000004', 20, 25)] };
    expect(checkHistory(backwards, { poolId: 'p', cap: 10 }).map((v) => v.kind)).toEqual(['FENCING_TOKEN_WENT_BACK']);
  });

  it('does not order overlapping requests', () => {
    const concurrent: History = { grants: [grant('a', 1, '1000000000009', 0, 50), grant('b', 1, '1000000000008', 10, 40)], ends: [] };
    expect(checkHistory(concurrent, { poolId: 'p', cap: 10 })).toEqual([]);
  });

  it('finds a team over its ceiling', () => {
    const team: History = { grants: [grant('a', 3, '1000000000001', 0, 1, 'cae'), grant('b', 3, '1000000000002', 0, 2, 'cae')], ends: [] };
    expect(checkHistory(team, { poolId: 'p', cap: 10, teamCeilings: { cae: 5 } }).map((v) => v.kind)).toEqual(['TEAM_OVER_CEILING']);
  });

  it('treats intervals as half-open', () => {
    expect(
      peakHeld([
        { from: 0, to: 10, credits: 5, team: null },
        { from: 10, to: 20, credits: 5, team: null },
      ]).peak,
    ).toBe(5);
  });
});
