import { AppError } from '../common/errors/app-error';
import { poolIdOf } from './mcp-resources';
import { refusalResult, toolResult } from './tool-result';

describe('MCP tool results', () => {
  it('gives an answer as text and as structured content', () => {
    expect(toolResult({ leaseId: 'l1', credits: 6 })).toEqual({
      content: [{ type: 'text', text: '{"leaseId":"l1","credits":6}' }],
      structuredContent: { leaseId: 'l1', credits: 6 },
    });
  });

  it('turns a refusal into an isError result with the contract code, its message and its figures', () => {
    const result = refusalResult(
      new AppError('POOL_EXHAUSTED', 'Pool has 4 credits available to you, 6 requested', { available: 4, requested: 6, retryAfterSeconds: 30 }),
    );
    expect(result.isError).toBe(true);
    expect(result.content).toEqual([{ type: 'text', text: 'POOL_EXHAUSTED: Pool has 4 credits available to you, 6 requested' }]);
    expect(result.structuredContent).toEqual({ code: 'POOL_EXHAUSTED', message: expect.any(String), available: 4, requested: 6, retryAfterSeconds: 30 });
  });

  it('answers an unexpected fault INTERNAL_SERVER_ERROR without its detail, and a dependency down UNAVAILABLE', () => {
    const fault = refusalResult(new Error('relation "secret_table" does not exist'));
    expect(fault.structuredContent).toEqual({ code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' });
    expect(JSON.stringify(fault)).not.toContain('secret_table');
    const down = refusalResult(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(down.structuredContent).toMatchObject({ code: 'UNAVAILABLE', retryAfterSeconds: 2 });
  });

  it('reads the pool a resource URI names, and nothing else', () => {
    expect(poolIdOf('tokenpool://pools')).toBeNull();
    expect(poolIdOf('tokenpool://pools/5a489eec-acba-4b08-a34d-6afb17e3e8ec')).toBe('5a489eec-acba-4b08-a34d-6afb17e3e8ec');
    expect(poolIdOf('tokenpool://pools/a/b')).toBeUndefined();
    expect(poolIdOf('tokenpool://leases')).toBeUndefined();
    expect(poolIdOf('file:///etc/passwd')).toBeUndefined();
  });
});
