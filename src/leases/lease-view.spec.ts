import type { LeaseEntity } from './lease.entity';
import { leaseView } from './lease-view';

const base = {
  id: 'l1',
  poolId: 'p',
  appId: 'a',
  principalId: 'u',
  organizationId: 'o',
  credits: 21,
  fencingToken: '1000000000001',
  acquiredAt: new Date('2026-01-01T10:00:00Z'),
  expiresAt: new Date('2026-01-01T10:05:00Z'),
  endedAt: null,
  host: null,
  leaseSeconds: 300,
} as unknown as LeaseEntity;

describe('leaseView', () => {
  it('shows an active lease before its expiry as ACTIVE with no end', () => {
    const view = leaseView({ ...base, state: 'ACTIVE' } as LeaseEntity, new Date('2026-01-01T10:04:59Z'));
    expect(view.state).toBe('ACTIVE');
    expect(view.endedAt).toBeNull();
  });

  it('shows an active lease past its expiry as EXPIRED, ended at its expiresAt', () => {
    const view = leaseView({ ...base, state: 'ACTIVE' } as LeaseEntity, new Date('2026-01-01T10:05:00Z'));
    expect(view.state).toBe('EXPIRED');
    expect(view.endedAt).toEqual(base.expiresAt);
  });

  it('keeps an ended lease as it was recorded', () => {
    const endedAt = new Date('2026-01-01T10:01:00Z');
    const view = leaseView({ ...base, state: 'RELEASED', endedAt } as LeaseEntity, new Date('2026-01-02T00:00:00Z'));
    expect(view).toMatchObject({ state: 'RELEASED', endedAt });
  });
});
