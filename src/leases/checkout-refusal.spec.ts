import { queueFullError, refusalError } from './checkout-refusal';
import { Refused } from '../lease-engine/lease-store.types';

const refused: Refused = { status: 'POOL_EXHAUSTED', requested: 6, available: 5, retryAfterMs: 1500, queuedAhead: 0, neverFits: false };

describe('checkout refusals', () => {
  it('names the bound a waiting check-out would pass, as RATE_LIMITED with retryAfterSeconds and queueLength', () => {
    const own = queueFullError({ status: 'QUEUE_FULL', bound: 'PRINCIPAL', limit: 20, retryAfterMs: 2100, queuedAhead: 35 });
    expect(own.code).toBe('RATE_LIMITED');
    expect(own.message).toContain('QUEUE_MAX_PER_PRINCIPAL');
    expect(own.extensions).toEqual({ retryAfterSeconds: 3, queueLength: 35 });
    const pool = queueFullError({ status: 'QUEUE_FULL', bound: 'POOL', limit: 1000, retryAfterMs: 10, queuedAhead: 1000 });
    expect(pool.message).toContain('QUEUE_MAX_PER_POOL');
    expect(pool.extensions.retryAfterSeconds).toBe(1);
  });

  it('tells a request that no wait can serve what to change, keeping its code and figures', () => {
    const cap = refusalError({ ...refused, neverFits: true }, null);
    expect(cap.code).toBe('POOL_EXHAUSTED');
    expect(cap.message).toContain("the pool's cap");
    expect(cap.extensions).toMatchObject({ requested: 6, available: 5, retryAfterSeconds: 2 });
    const ceiling = refusalError({ ...refused, status: 'GROUP_LIMIT_REACHED', available: 0, neverFits: true }, null);
    expect(ceiling.code).toBe('GROUP_LIMIT_REACHED');
    expect(ceiling.message).toContain("your team's ceiling");
  });

  it('answers QUEUE_TIMEOUT after a wait that ran out', () => {
    expect(refusalError(refused, 30).code).toBe('QUEUE_TIMEOUT');
  });
});
