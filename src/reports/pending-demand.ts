import type { CapReplay, ReplayRequest } from './cap-replay';
import type { DenialPoint } from './usage-slices';

/**
 * The demand of a replay besides the recorded draws, in arrival order: requests of draws
 * not recorded yet (a few, held in memory) and true denials, read a page at a time from
 * `pages` and replayed `count` times each (a row counts repeated refusals). At one instant
 * the draws come before the denials. `nextAt` is always the arrival of the next request
 * (Infinity when none is left), so a caller awaits only when something is due.
 */
export class PendingDemand {
  nextAt = -Infinity;
  private h = 0;
  private page: DenialPoint[] = [];
  private p = 0;
  private exhausted = false;

  private constructor(
    private readonly held: readonly ReplayRequest[],
    private readonly pages: AsyncIterator<DenialPoint[]>,
    private readonly requestOf: (denial: DenialPoint) => ReplayRequest | null,
  ) {}

  /** `held` in arrival order; `requestOf` turns a denial row into the request it replays, or null for none. */
  static async open(q: {
    held: readonly ReplayRequest[];
    pages: AsyncIterator<DenialPoint[]>;
    requestOf: (denial: DenialPoint) => ReplayRequest | null;
  }): Promise<PendingDemand> {
    const demand = new PendingDemand(q.held, q.pages, q.requestOf);
    await demand.fill();
    return demand;
  }

  /** Offers every request that arrived before `t` to `replay`, in arrival order. */
  async offerBefore(t: number, replay: CapReplay): Promise<void> {
    while (this.nextAt < t) {
      const denial = this.page[this.p];
      if (this.h < this.held.length && (denial === undefined || this.held[this.h].at <= denial.at)) {
        replay.offer(this.held[this.h++]);
      } else {
        this.p += 1;
        const request = this.requestOf(denial);
        if (request) for (let i = 0; i < denial.count; i++) replay.offer(request);
        if (this.p >= this.page.length) await this.fill();
      }
      this.updateNext();
    }
  }

  // Reads pages until one has rows or none is left: the page in hand is the only one held.
  private async fill(): Promise<void> {
    while (this.p >= this.page.length && !this.exhausted) {
      const next = await this.pages.next();
      if (next.done) this.exhausted = true;
      else [this.page, this.p] = [next.value, 0];
    }
    if (this.p >= this.page.length) [this.page, this.p] = [[], 0];
    this.updateNext();
  }

  private updateNext(): void {
    const held = this.h < this.held.length ? this.held[this.h].at : Infinity;
    const denied = this.p < this.page.length ? this.page[this.p].at : Infinity;
    this.nextAt = Math.min(held, denied);
  }
}
