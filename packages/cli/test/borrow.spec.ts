import { TokenpoolError } from '@tokenpool/client';
import { parseCommand } from '../src/args';
import { borrowCommand, borrowDocument, keysPathFor, parseBorrowArgs, parseVerifyArgs, renderBorrow, verifyProofCommand } from '../src/commands/borrow';
import { ExitCode, exitCodeForError } from '../src/exit-codes';
import { describeError, TOP_HELP } from '../src/main';

/** `tokenpool borrow` and `verify-proof` without a server: their arguments, exit codes and output. */

const borrowArgs = (...args: string[]) => parseBorrowArgs(parseCommand('borrow', args, borrowCommand.options, borrowCommand.maxPositionals), 'this-host');
const verifyArgs = (...args: string[]) => parseVerifyArgs(parseCommand('verify-proof', args, verifyProofCommand.options, verifyProofCommand.maxPositionals));

describe('tokenpool borrow arguments', () => {
  it('takes pool, app, hours and out; the host defaults to this machine and the keys go beside the proof', () => {
    expect(borrowArgs('--pool', 'eng', '--app', 'hypermesh', '--hours', '72', '--out', '/tmp/p.jwt')).toEqual({
      pool: 'eng',
      app: 'hypermesh',
      hours: 72,
      host: 'this-host',
      workUnit: undefined,
      out: '/tmp/p.jwt',
      keysOut: '/tmp/p.jwt.jwks.json',
      json: false,
    });
    expect(
      borrowArgs('--pool', 'eng', '--app', 'a', '--hours', '1', '--out', 'p', '--host', 'laptop', '--work-unit', 'T-1', '--keys-out', 'k.json', '--json'),
    ).toMatchObject({ host: 'laptop', workUnit: 'T-1', keysOut: 'k.json', json: true });
    expect(keysPathFor('proof.jwt')).toBe('proof.jwt.jwks.json');
  });

  it('names what is missing or wrong before any call', () => {
    expect(() => borrowArgs('--pool', 'eng', '--app', 'a', '--hours', '1')).toThrow('missing --out');
    expect(() => borrowArgs('--pool', 'eng', '--app', 'a', '--out', 'p')).toThrow('missing --hours');
    expect(() => borrowArgs('--app', 'a', '--hours', '1', '--out', 'p')).toThrow('missing --pool');
    expect(() => borrowArgs('--pool', 'eng', '--hours', '1', '--out', 'p')).toThrow('missing --app');
    expect(() => borrowArgs('--pool', 'eng', '--app', 'a', '--hours', '0', '--out', 'p')).toThrow('--hours must be a whole number of at least 1, not "0"');
    expect(() => borrowArgs('--pool', 'eng', '--app', 'a', '--hours', '2.5', '--out', 'p')).toThrow('--hours must be a whole number');
    expect(() => borrowArgs('--pool', 'eng', '--app', 'a', '--hours', '1', '--out', 'p', '--keys-out', 'p')).toThrow('--keys-out must not be the --out file');
    expect(() => borrowArgs('--pool', 'eng', '--app', 'a', '--hours', '1', '--out', 'p', 'extra')).toThrow('unexpected argument "extra"');
  });

  it('prints the lease, its end and where the files are, with the commands that come next', () => {
    const doc = borrowDocument(
      {
        id: 'l-1',
        state: 'ACTIVE',
        poolId: 'p-1',
        app: 'hypermesh',
        credits: 3,
        fencingToken: '17',
        proof: 'a.b.c',
        acquiredAt: new Date('2026-12-07T10:00:00Z'),
        expiresAt: new Date('2026-12-10T10:00:00Z'),
        borrowedUntil: new Date('2026-12-10T10:00:00Z'),
        leaseSeconds: 259200,
        host: 'laptop',
        workUnitId: null,
      },
      { id: 'p-1', name: 'eng' },
      { proofFile: '/tmp/p.jwt', keysFile: '/tmp/keys.json' },
    );
    expect(doc).toEqual({
      leaseId: 'l-1',
      pool: { id: 'p-1', name: 'eng' },
      app: 'hypermesh',
      host: 'laptop',
      credits: 3,
      fencingToken: '17',
      acquiredAt: '2026-12-07T10:00:00.000Z',
      borrowedUntil: '2026-12-10T10:00:00.000Z',
      proofFile: '/tmp/p.jwt',
      keysFile: '/tmp/keys.json',
    });
    const text = renderBorrow(doc);
    expect(text).toContain('Borrowed hypermesh from pool eng: lease l-1, 3 credits, host laptop');
    expect(text).toContain('(2026-12-10T10:00:00.000Z)');
    expect(text).toContain('tokenpool verify-proof /tmp/p.jwt --keys /tmp/keys.json');
    expect(text).toContain('tokenpool return l-1');
    expect(renderBorrow({ ...doc, keysFile: '/tmp/p.jwt.jwks.json' })).toContain('tokenpool verify-proof /tmp/p.jwt\n');
  });
});

describe('tokenpool verify-proof arguments', () => {
  it('reads the keys beside the proof unless --keys, and takes --revocations and --at', () => {
    expect(verifyArgs('p.jwt')).toEqual({ proofFile: 'p.jwt', keysFile: 'p.jwt.jwks.json', revocationsFile: undefined, at: undefined, json: false });
    const parsed = verifyArgs('p.jwt', '--keys', 'k.json', '--revocations', 'r.jws', '--at', '2026-12-24T18:00:00Z', '--json');
    expect(parsed).toMatchObject({ keysFile: 'k.json', revocationsFile: 'r.jws', json: true });
    expect(parsed.at?.toISOString()).toBe('2026-12-24T18:00:00.000Z');
    expect(() => verifyArgs()).toThrow('missing the proof file');
    expect(() => verifyArgs('p.jwt', '--at', 'friday')).toThrow('--at must be a date and time');
  });
});

describe('borrowing exit codes and messages', () => {
  it('maps BORROW_NOT_ALLOWED to 69, EXPIRED and REVOKED to 75, BAD_SIGNATURE to 77', () => {
    expect(exitCodeForError('BORROW_NOT_ALLOWED')).toBe(ExitCode.REFUSED);
    expect(exitCodeForError('EXPIRED')).toBe(ExitCode.LEASE_LOST);
    expect(exitCodeForError('REVOKED')).toBe(ExitCode.LEASE_LOST);
    expect(exitCodeForError('BAD_SIGNATURE')).toBe(ExitCode.NO_PERMISSION);
    expect(exitCodeForError('BAD_REQUEST')).toBe(ExitCode.USAGE);
  });

  it("shows the pool's maxBorrowHours with a BORROW_NOT_ALLOWED", () => {
    const err = new TokenpoolError('BORROW_NOT_ALLOWED', 'Pool eng allows borrowing up to 72 hours', { extensions: { maxBorrowHours: 72 } });
    expect(err.maxBorrowHours).toBe(72);
    expect(describeError(err)).toBe('Pool eng allows borrowing up to 72 hours (BORROW_NOT_ALLOWED; maxBorrowHours 72)');
  });

  it('lists the new commands in the help', () => {
    for (const name of ['borrow', 'return', 'verify-proof', 'revocations']) expect(TOP_HELP).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
  });
});
