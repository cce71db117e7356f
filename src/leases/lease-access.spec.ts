import { mayActOnLease } from './lease-access';

describe('mayActOnLease', () => {
  const lease = { principalId: 'holder', requestedByPrincipalId: 'broker' };

  it('lets an ADMIN key act on any lease', () => {
    expect(mayActOnLease({ role: 'ADMIN', principalId: 'someone' }, lease)).toBe(true);
  });

  it('lets a CLIENT key of the holder or of the SERVICE that asked for it act, no other', () => {
    expect(mayActOnLease({ role: 'CLIENT', principalId: 'holder' }, lease)).toBe(true);
    expect(mayActOnLease({ role: 'CLIENT', principalId: 'broker' }, lease)).toBe(true);
    expect(mayActOnLease({ role: 'CLIENT', principalId: 'someone' }, lease)).toBe(false);
  });

  it("never lets a VIEWER key act, even one of the holder's principal", () => {
    expect(mayActOnLease({ role: 'VIEWER', principalId: 'holder' }, lease)).toBe(false);
  });
});
