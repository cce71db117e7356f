import { replayCap, ReplayRequest } from './cap-replay';

const S = 1000;

function req(atS: number, credits: number, durationS: number): ReplayRequest {
  return { at: atS * S, credits, durationMs: durationS * S };
}

describe('replayCap', () => {
  it('grants everything that fits, delays nothing', () => {
    const result = replayCap({ cap: 10, maxWaitMs: 300 * S, initial: [], requests: [req(0, 5, 10), req(1, 5, 10), req(20, 10, 5)] });
    expect(result).toEqual({ requests: 3, denied: 0, delayed: 0, deniedCreditSeconds: 0, longestWaitMs: 0 });
  });

  it('delays a request until credits come back, and counts the wait', () => {
    // Cap 10: the second request (6) waits for the first (6) to end at 10 s.
    const result = replayCap({ cap: 10, maxWaitMs: 300 * S, initial: [], requests: [req(0, 6, 10), req(4, 6, 10)] });
    expect(result).toEqual({ requests: 2, denied: 0, delayed: 1, deniedCreditSeconds: 0, longestWaitMs: 6 * S });
  });

  it('refuses a request whose wait runs out, with the credit-seconds it would have held', () => {
    const result = replayCap({ cap: 10, maxWaitMs: 5 * S, initial: [], requests: [req(0, 6, 100), req(1, 6, 30)] });
    expect(result).toEqual({ requests: 2, denied: 1, delayed: 0, deniedCreditSeconds: 6 * 30, longestWaitMs: 0 });
  });

  it('grants a waiting request freed exactly at the end of its wait', () => {
    const result = replayCap({ cap: 10, maxWaitMs: 5 * S, initial: [], requests: [req(0, 6, 6), req(1, 6, 30)] });
    expect(result).toMatchObject({ denied: 0, delayed: 1, longestWaitMs: 5 * S });
  });

  it('serves first come first served: a small request does not overtake a large one', () => {
    // Cap 10, 8 held until 10 s. The 5 at 1 s waits; the 1 at 2 s would fit but queues behind it.
    const result = replayCap({ cap: 10, maxWaitMs: 300 * S, initial: [], requests: [req(0, 8, 10), req(1, 5, 10), req(2, 1, 10)] });
    expect(result).toEqual({ requests: 3, denied: 0, delayed: 2, deniedCreditSeconds: 0, longestWaitMs: 9 * S });
  });

  it('lets the queue move on when its head gives up', () => {
    // Cap 10, 8 held for 100 s. The 5 at 1 s gives up at 6 s; the 2 at 2 s then fits.
    const result = replayCap({ cap: 10, maxWaitMs: 5 * S, initial: [], requests: [req(0, 8, 100), req(1, 5, 10), req(2, 2, 10)] });
    expect(result).toEqual({ requests: 3, denied: 1, delayed: 1, deniedCreditSeconds: 50, longestWaitMs: 4 * S + 1 });
  });

  it('refuses at once a request larger than the cap', () => {
    const result = replayCap({ cap: 10, maxWaitMs: 300 * S, initial: [], requests: [req(0, 20, 10), req(1, 5, 10)] });
    expect(result).toEqual({ requests: 2, denied: 1, delayed: 0, deniedCreditSeconds: 200, longestWaitMs: 0 });
  });

  it('keeps draws held before the window until their end, even above the cap', () => {
    const result = replayCap({ cap: 10, maxWaitMs: 300 * S, initial: [{ end: 30 * S, credits: 15 }], requests: [req(0, 5, 10)] });
    expect(result).toEqual({ requests: 1, denied: 0, delayed: 1, deniedCreditSeconds: 0, longestWaitMs: 30 * S });
  });
});
