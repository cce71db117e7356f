import { TokenpoolError } from '../src/errors';
import { backoffDelay, isRetryable, withRetry } from '../src/retry';

describe('backoffDelay', () => {
  it('doubles from the base up to the maximum, with half of each delay random', () => {
    const low = (n: number) => backoffDelay(n, undefined, { baseMs: 200, maxMs: 5_000, random: () => 0 });
    const high = (n: number) => backoffDelay(n, undefined, { baseMs: 200, maxMs: 5_000, random: () => 0.999999 });
    expect([0, 1, 2, 3].map(low)).toEqual([100, 200, 400, 800]);
    expect([0, 1, 2, 3].map(high)).toEqual([200, 400, 800, 1600]);
    expect(low(20)).toBe(2_500);
    expect(high(20)).toBe(5_000);
  });

  it('never undercuts the server’s retryAfterSeconds, even past the maximum', () => {
    expect(backoffDelay(0, 3, { random: () => 0 })).toBe(3_000);
    expect(backoffDelay(0, 3, { random: () => 0.5 })).toBeGreaterThan(3_000);
    expect(backoffDelay(0, 3, { random: () => 0.999 })).toBeLessThanOrEqual(3_600);
    expect(backoffDelay(0, 30, { maxMs: 5_000, random: () => 0 })).toBe(30_000);
    // A long exponential delay beats a short retryAfter.
    expect(backoffDelay(10, 0.1, { maxMs: 5_000, random: () => 0 })).toBe(2_500);
  });
});

describe('withRetry', () => {
  const unavailable = () => new TokenpoolError('UNAVAILABLE', 'down', { extensions: { retryAfterSeconds: 0.01 } });

  it('retries UNAVAILABLE and RATE_LIMITED until an attempt succeeds', async () => {
    const errors = [unavailable(), new TokenpoolError('RATE_LIMITED', 'slow down', { extensions: { retryAfterSeconds: 0.01 } })];
    const attempts: number[] = [];
    const result = await withRetry(
      async (n) => {
        attempts.push(n);
        const err = errors.shift();
        if (err) throw err;
        return 'ok';
      },
      { deadline: Date.now() + 5_000, baseMs: 1, maxMs: 5 },
    );
    expect(result).toBe('ok');
    expect(attempts).toEqual([0, 1, 2]);
  });

  it('throws other codes at once', async () => {
    let calls = 0;
    const exhausted = new TokenpoolError('POOL_EXHAUSTED', 'no credits', { extensions: { available: 1, requested: 4 } });
    await expect(
      withRetry(
        async () => {
          calls++;
          throw exhausted;
        },
        { deadline: Date.now() + 5_000, baseMs: 1 },
      ),
    ).rejects.toBe(exhausted);
    expect(calls).toBe(1);
    expect(isRetryable(exhausted)).toBe(false);
    expect(isRetryable(new Error('plain'))).toBe(false);
  });

  it('gives up with the last error when the next try would start after the deadline', async () => {
    let calls = 0;
    const started = Date.now();
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new TokenpoolError('UNAVAILABLE', 'down');
        },
        { deadline: Date.now() + 300, baseMs: 50, maxMs: 100 },
      ),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(calls).toBeGreaterThan(1);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('stops waiting when the caller aborts', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    setTimeout(() => controller.abort(reason), 50);
    await expect(
      withRetry(
        async () => {
          throw new TokenpoolError('UNAVAILABLE', 'down', { extensions: { retryAfterSeconds: 10 } });
        },
        { deadline: Date.now() + 60_000, signal: controller.signal },
      ),
    ).rejects.toBe(reason);
  });
});
