import type { CapReplay, ReplayRequest } from './cap-replay';
import { PendingDemand } from './pending-demand';
import type { DenialPoint } from './usage-slices';

const denial = (at: number, count = 1, falseDenial = false): DenialPoint => ({ appId: 'cad', at, requested: 2, reason: 'POOL_EXHAUSTED', count, falseDenial });

/** Pages handed out one at a time, remembering how many were taken. */
function pagesOf(pages: DenialPoint[][]): { iterator: AsyncIterator<DenialPoint[]>; taken: () => number } {
  let taken = 0;
  return {
    iterator: {
      next: async () => (taken < pages.length ? { done: false, value: pages[taken++] } : { done: true, value: undefined }),
    },
    taken: () => taken,
  };
}

function recorder(): { replay: CapReplay; offered: ReplayRequest[] } {
  const offered: ReplayRequest[] = [];
  return { replay: { offer: (r: ReplayRequest) => offered.push(r) } as unknown as CapReplay, offered };
}

const requestOf = (d: DenialPoint): ReplayRequest | null => (d.falseDenial ? null : { at: d.at, credits: d.requested, durationMs: 1000 });

describe('PendingDemand', () => {
  it('merges held draws and denial rows in arrival order, draws first at one instant, a row once per refusal it counts', async () => {
    const pages = pagesOf([
      [denial(10, 2), denial(20)],
      [denial(30, 1, true), denial(40, 3)],
    ]);
    const held = [
      { at: 20, credits: 5, durationMs: 1 },
      { at: 35, credits: 5, durationMs: 1 },
    ];
    const demand = await PendingDemand.open({ held, pages: pages.iterator, requestOf });
    const { replay, offered } = recorder();
    await demand.offerBefore(Infinity, replay);
    expect(offered.map((r) => [r.at, r.credits])).toEqual([
      [10, 2],
      [10, 2],
      [20, 5],
      [20, 2],
      [35, 5],
      [40, 2],
      [40, 2],
      [40, 2],
    ]);
    expect(demand.nextAt).toBe(Infinity);
  });

  it('offers only what came before the given instant, and reads a page only once the one before is used up', async () => {
    const pages = pagesOf([[denial(10), denial(20)], [denial(30)], [denial(40)]]);
    const demand = await PendingDemand.open({ held: [], pages: pages.iterator, requestOf });
    expect(pages.taken()).toBe(1);
    const { replay, offered } = recorder();
    await demand.offerBefore(20, replay);
    expect(offered.map((r) => r.at)).toEqual([10]);
    expect([demand.nextAt, pages.taken()]).toEqual([20, 1]);
    await demand.offerBefore(31, replay);
    expect(offered.map((r) => r.at)).toEqual([10, 20, 30]);
    expect([demand.nextAt, pages.taken()]).toEqual([40, 3]);
  });
});
