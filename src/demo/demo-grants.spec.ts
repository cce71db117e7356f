import { checkCap, groupDraws } from '../history/history-draws';
import { DEMO_POOLS } from './demo-catalog';
import { planDay } from './demo-day';
import { simulateGrants } from './demo-grants';
import { DemoRandom } from './demo-random';

const DAY = 86_400_000;
const MONDAY = Date.UTC(2026, 10, 16);

function replay(poolId: 'cae' | 'agent', dayStart: number) {
  const pool = DEMO_POOLS.find((p) => p.id === poolId)!;
  const requests = planDay({ seed: 42, dayIndex: 0, dayStart }).requests.filter((r) => r.pool === poolId);
  const teams = new Map([['planning-agent', 'production-planning']]);
  return { pool, ...simulateGrants({ pool, requests, teamOf: (p) => teams.get(p) ?? p.split('-')[0], dayEnd: dayStart + DAY, rng: new DemoRandom(1) }) };
}

describe('simulateGrants', () => {
  it.each(['cae', 'agent'] as const)('grants in the %s pool only what the import will accept under the cap', (poolId) => {
    const { pool, grants } = replay(poolId, MONDAY);
    const apps = new Map(pool.apps.map((a) => [a.key, a]));
    const draws = groupDraws(
      grants.map((g) => ({
        appId: g.app,
        principalId: g.principal,
        host: g.host,
        workUnitId: g.workUnit,
        start: g.start,
        end: g.end,
        shareScope: apps.get(g.app)!.shareScope,
        lingerSeconds: apps.get(g.app)!.lingerSeconds ?? 0,
        cost: apps.get(g.app)!.cost,
      })),
    );
    expect(checkCap({ existing: [], added: draws, changes: [], fallbackCap: pool.cap, instants: [] }).violation).toBeNull();
    expect(Math.max(...draws.map((d) => d.end))).toBeLessThan(MONDAY + DAY);
  });

  it('denies part of the 06:00 replanning burst, which asks for more than the agent pool holds', () => {
    const { denials } = replay('agent', MONDAY);
    expect(denials.some((d) => d.app === 'schedule-sim' && d.reason === 'POOL_EXHAUSTED')).toBe(true);
  });

  it('plans the same day alike from the same seed', () => {
    expect(planDay({ seed: 7, dayIndex: 3, dayStart: MONDAY })).toEqual(planDay({ seed: 7, dayIndex: 3, dayStart: MONDAY }));
  });
});
