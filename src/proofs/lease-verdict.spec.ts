import { verdictFor } from './lease-verdict';

describe('verdictFor', () => {
  const active = { state: 'ACTIVE' as const, fencingToken: '42' };

  it('holds for a current proof of an active lease', () => {
    expect(verdictFor({ fence: '42', expired: false }, active)).toBeNull();
  });

  it('answers the way an ended lease ended, before anything else', () => {
    expect(verdictFor({ fence: '1', expired: true }, { state: 'RELEASED', fencingToken: '42' })).toBe('RELEASED');
    expect(verdictFor({ fence: '1', expired: true }, { state: 'REVOKED', fencingToken: '42' })).toBe('REVOKED');
  });

  it('answers EXPIRED for an expired lease or a proof past its exp', () => {
    expect(verdictFor({ fence: '42', expired: false }, { state: 'EXPIRED', fencingToken: '42' })).toBe('EXPIRED');
    expect(verdictFor({ fence: '42', expired: true }, active)).toBe('EXPIRED');
  });

  it('answers STALE_FENCING_TOKEN for a fence below the current one, compared as integers', () => {
    expect(verdictFor({ fence: '41', expired: false }, active)).toBe('STALE_FENCING_TOKEN');
    expect(verdictFor({ fence: '9', expired: false }, { state: 'ACTIVE', fencingToken: '10' })).toBe('STALE_FENCING_TOKEN');
    expect(verdictFor({ fence: '18446744073709551615', expired: false }, { state: 'ACTIVE', fencingToken: '18446744073709551614' })).toBeNull();
  });
});
