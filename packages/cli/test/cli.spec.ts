import { parseCommand, splitTopLevel, integerOption, secondsOption, UsageError } from '../src/args';
import { buildStatus, renderStatus, snapshotShape } from '../src/commands/status';
import { ExitCode, exitCodeForChild, exitCodeForError } from '../src/exit-codes';
import { duration, localTime, table, until } from '../src/format';
import { TokenpoolError } from '@tokenpool/client';
import { describeError, redactKeys } from '../src/main';

describe('exit codes', () => {
  it('maps refusals to 69, key problems to 77 and everything else to 1', () => {
    for (const code of ['POOL_EXHAUSTED', 'GROUP_LIMIT_REACHED', 'QUEUE_TIMEOUT', 'BUDGET_EXHAUSTED']) expect(exitCodeForError(code)).toBe(69);
    for (const code of ['UNAUTHENTICATED', 'FORBIDDEN']) expect(exitCodeForError(code)).toBe(77);
    for (const code of ['NOT_FOUND', 'BAD_USER_INPUT', 'UNAVAILABLE', undefined]) expect(exitCodeForError(code)).toBe(ExitCode.USAGE);
  });

  it("passes a child's code on, and 128 + the signal number for a signal death", () => {
    const signals = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
    expect(exitCodeForChild(3, null, signals)).toBe(3);
    expect(exitCodeForChild(0, null, signals)).toBe(0);
    expect(exitCodeForChild(null, 'SIGTERM', signals)).toBe(143);
    expect(exitCodeForChild(null, 'SIGKILL', signals)).toBe(137);
  });
});

describe('argument parsing', () => {
  const options = { pool: { type: 'string' }, json: { type: 'boolean' }, wait: { type: 'string' } } as const;

  it('takes global options before the command word and two-word commands', () => {
    expect(splitTopLevel(['--url', 'http://x', '--api-key=tp_abc', 'pools', 'create', 'eng', '--cap', '3'])).toEqual({
      leading: { url: 'http://x', apiKey: 'tp_abc' },
      help: false,
      words: ['pools', 'create'],
      rest: ['eng', '--cap', '3'],
    });
    expect(splitTopLevel(['status', '--json']).words).toEqual(['status']);
    expect(() => splitTopLevel(['--pool', 'x', 'status'])).toThrow('unknown option --pool');
    expect(() => splitTopLevel(['--url'])).toThrow('option --url needs a value');
  });

  it('names the offending option in short messages', () => {
    expect(() => parseCommand('status', ['--bogus'], options, 0)).toThrow(new UsageError('unknown option --bogus'));
    expect(() => parseCommand('status', ['--pool'], options, 0)).toThrow('option --pool needs a value');
    expect(() => parseCommand('status', ['--json=yes'], options, 0)).toThrow('option --json takes no value');
    expect(() => parseCommand('status', ['extra'], options, 0)).toThrow('unexpected argument "extra"');
    const parsed = parseCommand('status', ['--pool', 'eng', '--json', '--url', 'http://y'], options, 0);
    expect(parsed.values).toEqual({ pool: 'eng', json: true, url: 'http://y' });
  });

  it('checks numbers before any call', () => {
    const parse = (...args: string[]) => parseCommand('run', args, options, 0);
    expect(integerOption(parse('--wait', '30'), 'wait', 'run')).toBe(30);
    expect(integerOption(parse(), 'wait', 'run')).toBeUndefined();
    expect(() => integerOption(parse('--wait', 'soon'), 'wait', 'run')).toThrow('--wait must be a whole number, not "soon"');
    expect(() => integerOption(parse('--wait=-1'), 'wait', 'run')).toThrow('--wait must be a whole number');
    expect(() => parse('--wait', '-1')).toThrow('option --wait needs a value (for one that starts with "-", write --wait=<value>)');
    expect(() => integerOption(parse('--wait', '0'), 'wait', 'run', 1)).toThrow('of at least 1');
    expect(secondsOption(parse('--wait', '0.5'), 'wait', 'run')).toBe(0.5);
    expect(() => secondsOption(parse('--wait', 'x'), 'wait', 'run')).toThrow('--wait must be a number of seconds');
  });

  it('masks API keys in anything it prints', () => {
    expect(redactKeys(`unexpected argument "tp_${'a'.repeat(64)}"`)).toBe('unexpected argument "tp_***"');
    expect(redactKeys('key sekrit-key leaked', { url: undefined, apiKey: 'sekrit-key' })).toBe('key *** leaked');
  });
});

describe('formatting', () => {
  it('says ages the way people do', () => {
    expect(duration(0)).toBe('0s');
    expect(duration(-5_000)).toBe('0s');
    expect(duration(45_900)).toBe('45s');
    expect(duration(192_000)).toBe('3m12s');
    expect(duration((2 * 3600 + 5 * 60 + 7) * 1000)).toBe('2h05m');
    expect(duration((3 * 86400 + 4 * 3600) * 1000)).toBe('3d04h');
    const now = new Date('2026-12-07T06:00:00Z');
    expect(until(new Date('2026-12-07T06:04:48Z'), now)).toBe('in 4m48s');
    expect(until(new Date('2026-12-07T05:59:56Z'), now)).toBe('4s ago');
  });

  it('prints local time as date and time of day', () => {
    expect(localTime(new Date(2026, 11, 7, 6, 1, 2))).toBe('2026-12-07 06:01:02');
  });

  it('aligns columns, numbers to the right', () => {
    expect(
      table(
        [{ header: 'NAME' }, { header: 'N', align: 'right' }],
        [
          ['alice', '5'],
          ['bob', '120'],
        ],
        '  ',
      ),
    ).toBe(['  NAME     N', '  alice    5', '  bob    120'].join('\n'));
  });
});

describe('status', () => {
  const now = new Date('2026-12-07T06:00:00Z');
  const pool = {
    id: 'p1',
    name: 'engineering',
    cap: 400,
    inUse: 26,
    available: 374,
    activeLeases: 2,
    queueLength: 1,
    apps: [
      { key: 'hypermesh', name: 'HyperMesh', cost: 21 },
      { key: 'abaqus', name: 'Abaqus', cost: 5 },
    ],
  };
  const lease = (id: string, app: string, credits: number, acquiredAt: string) => ({
    id,
    state: 'ACTIVE',
    credits,
    host: 'ws-17',
    acquiredAt,
    expiresAt: '2026-12-07T06:04:48Z',
    app: { key: app },
    pool: { id: 'p1', name: 'engineering' },
    principal: { name: 'alice' },
  });

  it('groups leases under their app, oldest first, and keeps leases of unlisted apps', () => {
    const doc = buildStatus(
      [pool],
      [
        lease('l2', 'hypermesh', 21, '2026-12-07T05:50:00Z'),
        lease('l1', 'hypermesh', 21, '2026-12-07T05:40:00Z'),
        lease('l3', 'gone', 5, '2026-12-07T05:59:00Z'),
      ],
      now,
    );
    expect(doc.pools[0].apps.map((a) => [a.key, a.cost, a.leases.map((l) => l.id)])).toEqual([
      ['hypermesh', 21, ['l1', 'l2']],
      ['abaqus', 5, []],
      ['gone', null, ['l3']],
    ]);
  });

  it('reads like lmstat: a pool line, an app line, a row per lease', () => {
    const text = renderStatus(buildStatus([pool], [lease('l1', 'hypermesh', 21, '2026-12-07T05:48:00Z')], now), now);
    const lines = text.split('\n');
    expect(lines[0]).toBe('Pool engineering: cap 400, in use 26, available 374, queue 1, 2 active leases  [p1]');
    expect(lines[2]).toBe('  hypermesh (HyperMesh): cost 21, 1 lease');
    expect(lines[3]).toMatch(/^ {4}HOLDER +HOST +CREDITS +SINCE +EXPIRES +LEASE$/);
    expect(lines[4]).toMatch(/^ {4}alice +ws-17 +21 +\d{4}-\d\d-\d\d \d\d:\d\d:00 \(12m00s ago\) +in 4m48s +l1$/);
    expect(lines[6]).toBe('  abaqus (Abaqus): cost 5, no leases');
    expect(renderStatus({ generatedAt: now.toISOString(), pools: [] }, now)).toBe('No pools.');
  });
});

describe('status --watch', () => {
  it('does not count expiries pushed on by heartbeats, or the read time, as a change', () => {
    const lease = { id: 'l1', holder: 'alice', host: 'ws-17', credits: 5, acquiredAt: '2026-12-07T05:00:00Z', expiresAt: '2026-12-07T05:05:00Z' };
    const doc = (expiresAt: string, inUse: number) => ({
      generatedAt: expiresAt,
      pools: [
        {
          id: 'p',
          name: 'eng',
          cap: 9,
          inUse,
          available: 9 - inUse,
          queueLength: 0,
          activeLeases: 1,
          apps: [{ key: 'a', name: 'A', cost: 5, leases: [{ ...lease, expiresAt }] }],
        },
      ],
    });
    expect(snapshotShape(doc('2026-12-07T05:06:00Z', 5))).toBe(snapshotShape(doc('2026-12-07T05:05:00Z', 5)));
    expect(snapshotShape(doc('2026-12-07T05:06:00Z', 4))).not.toBe(snapshotShape(doc('2026-12-07T05:05:00Z', 5)));
  });
});

describe('error messages', () => {
  it('carry the code and the figures that make a refusal actionable', () => {
    const refused = new TokenpoolError('POOL_EXHAUSTED', 'Pool has 8 credits available to you, 21 requested', {
      extensions: { available: 8, requested: 21, queueLength: 0, retryAfterSeconds: 300 },
    });
    expect(describeError(refused)).toBe(
      'Pool has 8 credits available to you, 21 requested (POOL_EXHAUSTED; available 8, requested 21, queue 0, retry after 300 s)',
    );
    expect(describeError(new TokenpoolError('NOT_FOUND', 'No such lease'))).toBe('No such lease (NOT_FOUND)');
  });

  it('say where the key comes from when none was given', () => {
    const refused = new TokenpoolError('UNAUTHENTICATED', 'An API key is required');
    expect(describeError(refused, { url: undefined, apiKey: undefined })).toBe(
      'An API key is required (UNAUTHENTICATED); set TOKENPOOL_API_KEY or pass --api-key',
    );
    expect(describeError(refused, { url: undefined, apiKey: 'tp_x' })).toBe('An API key is required (UNAUTHENTICATED)');
  });
});
