import { readFileSync } from 'fs';
import { join } from 'path';
import { generateFlexlmLog } from './generate-flexlm';
import { LogEvent, LogFormat, ParsedLine, parseLines, parseLog, UnknownTimeZoneError } from './log-events';

const FIXTURES = join(__dirname, '../../test/fixtures/license-logs');
const read = (name: string) => readFileSync(join(FIXTURES, name), 'utf8').split('\n');
const iso = (ms: number) => new Date(ms).toISOString();

function parse(format: LogFormat, lines: string[], timeZone = 'UTC'): ParsedLine[] {
  return [...parseLines(format, lines, { timeZone })];
}
function events(parsed: ParsedLine[]): LogEvent[] {
  return parsed.flatMap((p) => (p.event ? [p.event] : []));
}
async function collect(it: AsyncIterable<ParsedLine>): Promise<ParsedLine[]> {
  const out: ParsedLine[] = [];
  for await (const p of it) out.push(p);
  return out;
}

describe('parseLog', () => {
  it('throws a clear error naming an unknown time zone, at the call', () => {
    expect(() => parseLog('flexlm', [], { timeZone: 'Mars/Olympus_Mons' })).toThrow(UnknownTimeZoneError);
    expect(() => parseLog('flexlm', [], { timeZone: 'Mars/Olympus_Mons' })).toThrow(/Mars\/Olympus_Mons/);
  });

  it('streams one ParsedLine per input line, in order, from an async source', async () => {
    const lines = read('flexlm-denials.log');
    async function* source() {
      for (const l of lines) yield l;
    }
    const got = await collect(parseLog('flexlm', source(), { timeZone: 'America/New_York' }));
    expect(got.map((p) => p.line)).toEqual(lines.map((_, i) => i + 1));
    expect(got).toEqual(parse('flexlm', lines, 'America/New_York'));
  });
});

describe('FlexNet debug log', () => {
  it('reads start lines, check-outs, check-ins and denials with their reasons (Eastern time to UTC)', () => {
    const parsed = parse('flexlm', read('flexlm-denials.log'), 'America/New_York');
    const ev = events(parsed);
    expect(ev[0]).toMatchObject({ kind: 'RESTART', vendor: null, phase: 'start', line: 5 });
    expect(iso(ev[0].at)).toBe('2018-07-27T19:49:10.000Z');
    expect(ev[1]).toMatchObject({ kind: 'RESTART', vendor: 'adskflex', phase: 'start', line: 16 });
    const out = ev.find((e) => e.kind === 'OUT')!;
    expect(out).toMatchObject({ vendor: 'adskflex', feature: '86815AECCOL_T_F', user: 'TonyMontana', host: 'ANOTHERONE', count: 1, handle: null });
    // 10:16:11 EDT on 7/30/2018 (the lmgrd TIMESTAMP 7/30/2018 just before)
    expect(iso(out.at)).toBe('2018-07-30T14:16:11.000Z');
    const denied = ev.filter((e) => e.kind === 'DENIED');
    expect(denied).toHaveLength(2);
    expect(denied[0]).toMatchObject({
      feature: '64300ACD_F',
      user: 'TonyMontana',
      host: 'ANOTHERONE',
      count: 1,
      reason: 'Licensed number of users already reached. (-4,342)',
    });
    expect(iso(denied[0].at)).toBe('2018-07-30T19:28:58.000Z');
    expect(parsed.every((p) => p.recognized)).toBe(true);
  });

  it('reads counts in (n licenses), check-in reasons, identical lines in one second, exits, and flags a malformed line', () => {
    const lines = read('flexlm-msc-tokens.log');
    const parsed = parse('flexlm', lines, 'Europe/Berlin');
    const ev = events(parsed);
    const first = ev.find((e) => e.kind === 'OUT')!;
    expect(first).toMatchObject({ feature: 'MSCONE', user: 'user_01', host: 'machine_01', count: 60, vendor: 'MSC' });
    expect(iso(first.at)).toBe('2026-03-08T15:12:16.000Z'); // CET
    const twins = ev.filter((e) => e.kind === 'OUT' && iso(e.at) === '2026-03-08T15:13:38.000Z' && e.count === 13);
    expect(twins).toHaveLength(3);
    expect(lines[twins[0].line - 1]).toBe(lines[twins[1].line - 1]);
    expect(twins[0].key).not.toBe(twins[1].key);
    expect(ev.find((e) => e.kind === 'OUT' && e.line === 102)).toMatchObject({ count: 1 }); // [MSCONE:ADAMS_Car_Plugin], no count
    const stop = ev.find((e) => e.kind === 'RESTART' && e.phase === 'stop')!;
    expect(stop).toMatchObject({ vendor: 'MSC' });
    expect(iso(stop.at)).toBe('2026-03-08T16:09:27.000Z');
    const shutdownIns = ev.filter((e) => e.kind === 'IN' && e.reason === 'SHUTDOWN');
    expect(shutdownIns).toHaveLength(8);
    expect(shutdownIns[0]).toMatchObject({ count: 60 });
    const bad = parsed.filter((p) => !p.recognized);
    expect(bad.map((p) => p.line)).toEqual([72]);
    expect(lines[71]).toMatch(/^ \(@MSC-INFO@\)/);
  });

  it('rolls the day over at midnight without a TIMESTAMP, and skips banner and SLOG lines', () => {
    const lines = read('flexlm-autodesk.log');
    const parsed = parse('flexlm', lines, 'Europe/Madrid');
    const ev = events(parsed);
    expect(ev.filter((e) => e.kind === 'RESTART')).toHaveLength(2);
    expect(iso(ev[0].at)).toBe('2016-03-29T23:56:05.000Z'); // 1:56:05 CEST on 3/30/2016
    const afterMidnight = ev.filter((e) => e.kind === 'OUT');
    expect(afterMidnight).toHaveLength(2);
    expect(iso(afterMidnight[0].at)).toBe('2016-04-13T22:23:34.000Z'); // 0:23:34 CEST on 4/14, before the 0:52:49 TIMESTAMP 4/14/2016
    const slog = parsed.filter((p) => /SLOG|Please Note/.test(lines[p.line - 1]));
    expect(slog.length).toBeGreaterThan(10);
    expect(slog.every((p) => p.recognized && p.event === null)).toBe(true);
  });

  it('gives the same keys to the lines two overlapping rotated files share', () => {
    const a = parse('flexlm', read('flexlm-rotated-1.log'), 'Europe/Madrid');
    const b = parse('flexlm', read('flexlm-rotated-2.log'), 'Europe/Madrid');
    const ka = new Map(events(a).map((e) => [e.key, e]));
    const shared = events(b).filter((e) => ka.has(e.key));
    expect(shared.map((e) => e.kind)).toEqual(['OUT', 'OUT', 'IN', 'IN']);
    for (const e of shared) expect(e.at).toBe(ka.get(e.key)!.at);
    // b starts undated: its first lines take their date from the TIMESTAMP that follows them
    expect(iso(events(b)[0].at)).toBe('2016-04-13T22:23:34.000Z');
  });

  it('reads UNSUPPORTED as a denial, users with spaces, and counts on denials', () => {
    const ev = events(parse('flexlm', read('flexlm-unsupported.log'), 'America/New_York'));
    const denied = ev.filter((e) => e.kind === 'DENIED');
    expect(denied.map((e) => (e.kind === 'DENIED' ? [e.feature, e.user, e.host, e.count, e.reason] : []))).toEqual([
      ['pathway_base', 'nicolaea', 'NCI-01831285', 1, 'UNSUPPORTED: License server system does not support this feature. (-18,327)'],
      ['base', 'ciuccit', 'NCI-01978755-ML', 1, 'Licensed number of users already reached. (-4,342:10054 "")'],
      ['abaqus', 'askmanson', 'node353.igcar.gov.in', 25, 'Users are queued for this feature. (-24,332)'],
      ['LDSDK.EXE', 'LOCAL SERVICE', 'DESKTOP-07VCTIN', 1, 'UNSUPPORTED: No such feature exists. (-5,346)'],
    ]);
  });

  it('converts local times across both DST changes of the year', () => {
    const lines = [
      ' 1:59:59 (lmgrd) TIMESTAMP 3/31/2024',
      ' 1:59:59 (v) OUT: "f" a@h',
      ' 3:00:00 (v) IN: "f" a@h',
      ' 1:00:00 (lmgrd) TIMESTAMP 10/27/2024',
      ' 2:30:00 (v) OUT: "f" b@h',
      ' 2:59:00 (v) OUT: "f" c@h',
      ' 2:10:00 (v) IN: "f" b@h', // the clock went back an hour: the second 2:10
      ' 3:00:00 (v) IN: "f" c@h',
    ];
    const at = events(parse('flexlm', lines, 'Europe/Berlin')).map((e) => iso(e.at));
    expect(at).toEqual([
      '2024-03-31T00:59:59.000Z',
      '2024-03-31T01:00:00.000Z',
      '2024-10-27T00:30:00.000Z',
      '2024-10-27T00:59:00.000Z',
      '2024-10-27T01:10:00.000Z',
      '2024-10-27T02:00:00.000Z',
    ]);
  });

  it('reads verbose debug-log lines (handle), brackets counts and CRLF line ends', () => {
    const lines = [
      '8:00:00 (lmgrd) TIMESTAMP 1/2/2024\r',
      '8:41:54 (demo) OUT: "f1" @BLR-LT-104276 (2 licenses) ^^^ 1.0 ADas 127.0.0.1 29865 0x12CE 3 10 proj 11 19 1/2/2024 8:41:54 0 ^^^\r',
    ];
    const [out] = events(parse('flexlm', lines));
    expect(out).toMatchObject({ kind: 'OUT', feature: 'f1', user: 'ADas', host: 'BLR-LT-104276', count: 2, handle: '0x12CE' });
  });

  it('returns lines that are not of the format unrecognized', () => {
    const parsed = parse('flexlm', ['hello world', '12:00:00 (v) OUT: no user here', '', 'RLM Report Log Format 0, version 11.0']);
    expect(parsed.map((p) => p.recognized)).toEqual([false, false, true, false]);
  });

  it('the generator yields exactly the asked lines, all recognized, with events of each kind', () => {
    const lines = [...generateFlexlmLog({ lines: 5000, features: ['a', 'b', 'c'], users: 20, seed: 3, startDate: new Date('2024-01-01T22:00:00Z') })];
    expect(lines).toHaveLength(5000);
    expect(lines).toEqual([...generateFlexlmLog({ lines: 5000, features: ['a', 'b', 'c'], users: 20, seed: 3, startDate: new Date('2024-01-01T22:00:00Z') })]);
    const parsed = parse('flexlm', lines);
    expect(parsed.every((p) => p.recognized)).toBe(true);
    const kinds = new Set(events(parsed).map((e) => e.kind));
    expect([...kinds].sort()).toEqual(['DENIED', 'IN', 'OUT', 'RESTART']);
    const ev = events(parsed);
    for (let i = 1; i < ev.length; i++) expect(ev[i].at).toBeGreaterThanOrEqual(ev[i - 1].at);
    expect(new Set(ev.map((e) => e.key)).size).toBe(ev.length);
  });
});

describe('lmstat -a snapshots', () => {
  it('emits a SNAPSHOT per good status and HELD per user line; a holding keeps its key across snapshots', () => {
    const lines = read('lmstat-snapshots.txt');
    const parsed = parse('lmstat', lines, 'Europe/Berlin');
    const ev = events(parsed);
    const snaps = ev.filter((e) => e.kind === 'SNAPSHOT');
    expect(snaps.map((e) => iso(e.at))).toEqual(['2017-10-20T15:02:00.000Z', '2017-10-20T15:03:00.000Z']);
    const held = ev.filter((e) => e.kind === 'HELD');
    expect(held).toHaveLength(7);
    expect(held[0]).toMatchObject({ feature: 'feature2', user: 'user1', host: 'server034', count: 1, handle: 'host1/28000 5226', vendor: 'vendor1' });
    expect(iso(held[0].kind === 'HELD' ? held[0].since : 0)).toBe('2017-10-20T14:40:00.000Z');
    const first = held.filter((e) => e.at === snaps[0].at).map((e) => e.key);
    const second = held.filter((e) => e.at === snaps[1].at).map((e) => e.key);
    expect(first).toHaveLength(4);
    expect(second).toEqual(first.filter((_, i) => i !== 0));
    // the failed query at 17:04 is no snapshot
    const failed = parsed.find((p) => lines[p.line - 1].includes('17:04'))!;
    expect(failed).toMatchObject({ event: null, recognized: true });
    expect(parsed.every((p) => p.recognized)).toBe(true);
  });

  it('reads counts, start dates of earlier days, reservations and queued lines', () => {
    const parsed = parse('lmstat', read('lmstat-reservations.txt'));
    const held = events(parsed).filter((e) => e.kind === 'HELD');
    expect(held[0]).toMatchObject({ feature: 'feature1', user: 'USER9', host: 'SERVER45823008', count: 5 });
    const old = held.find((e) => e.kind === 'HELD' && e.user === 'user31')!;
    expect(old).toMatchObject({ count: 21, host: 'server230' });
    expect(old.kind === 'HELD' && iso(old.since)).toBe('2017-10-18T07:11:00.000Z');
    expect(held.filter((e) => e.feature === 'feature5')).toHaveLength(2);
    expect(parsed.every((p) => p.recognized)).toBe(true);
  });
});

describe('RLM report log', () => {
  it('reads START, OUT, IN, DENY, timestamps and SHUTDOWN', () => {
    const lines = read('rlm-reportlog.txt');
    const parsed = parse('rlm', lines, 'Europe/Berlin');
    const ev = events(parsed).map((e) => ({ ...e, at: iso(e.at), key: undefined }));
    expect(ev).toEqual([
      { kind: 'RESTART', at: '2024-03-30T07:00:00.000Z', vendor: 'ssi', phase: 'start', line: 10, key: undefined },
      {
        kind: 'OUT',
        at: '2024-03-30T07:15:02.000Z',
        vendor: 'ssi',
        feature: 'solver',
        user: 'alice',
        host: 'ws-17',
        count: 1,
        handle: '41',
        line: 14,
        key: undefined,
      },
      {
        kind: 'OUT',
        at: '2024-03-30T08:00:10.000Z',
        vendor: 'ssi',
        feature: 'solver',
        user: 'bob',
        host: 'ws-22',
        count: 3,
        handle: '42',
        line: 15,
        key: undefined,
      },
      {
        kind: 'IN',
        at: '2024-03-30T11:30:45.000Z',
        vendor: 'ssi',
        feature: 'solver',
        user: 'alice',
        host: 'ws-17',
        count: 1,
        handle: '41',
        reason: 'checkin',
        line: 16,
        key: undefined,
      },
      {
        kind: 'DENIED',
        at: '2024-03-30T12:05:00.000Z',
        vendor: 'ssi',
        feature: 'solver',
        user: 'carol',
        host: 'ws-31',
        count: 8,
        reason: 'RLM status -22',
        line: 17,
        key: undefined,
      },
      {
        kind: 'OUT',
        at: '2024-03-31T00:59:59.000Z',
        vendor: 'ssi',
        feature: 'viewer',
        user: 'alice',
        host: 'ws-17',
        count: 1,
        handle: '43',
        line: 20,
        key: undefined,
      },
      {
        kind: 'OUT',
        at: '2024-03-31T01:00:00.000Z',
        vendor: 'ssi',
        feature: 'viewer',
        user: 'alice',
        host: 'ws-17',
        count: 1,
        handle: '44',
        line: 21,
        key: undefined,
      },
      { kind: 'RESTART', at: '2024-03-31T16:00:00.000Z', vendor: 'ssi', phase: 'stop', line: 22, key: undefined },
    ]);
    expect(parsed.filter((p) => !p.recognized).map((p) => p.line)).toEqual([23]);
    expect(parsed.find((p) => p.line === 18)).toEqual({ line: 18, event: null, recognized: true }); // last_attempt 0
  });

  it('reads the small format, taking who checked in from the checkout handle', () => {
    const lines = [
      'RLM Report Log Format 1, version 12.0, authenticated',
      'ISV: demo, RLM version 12.0 BL1',
      'START srv 12/31/2023 23:00',
      'OUT cad 1.0 ann pc1 "" 1 1f 1f 23:50',
      'IN 2 1 1f 00:10',
    ];
    const ev = events(parse('rlm', lines));
    expect(ev.map((e) => [e.kind, iso(e.at)])).toEqual([
      ['RESTART', '2023-12-31T23:00:00.000Z'],
      ['OUT', '2023-12-31T23:50:00.000Z'],
      ['IN', '2024-01-01T00:10:00.000Z'],
    ]);
    expect(ev[2]).toMatchObject({ feature: 'cad', user: 'ann', host: 'pc1', handle: '1f', reason: 'application exited' });
  });

  it('does not take a START followed by licenses in use (the next file of a running server) for a restart', () => {
    const lines = [
      'ISV: demo, RLM version 12.0 BL1',
      'START srv 01/02/2024 00:00',
      'INUSE cad 1.0 0 ann pc1 "" 1 1f 2a0 01/01 22:00:00',
      'IN 1 cad 1.0 ann pc1 "" 1 0 0 1f 01/02 08:00:00',
    ];
    const parsed = parse('rlm', lines);
    expect(events(parsed).map((e) => e.kind)).toEqual(['IN']);
    expect(parsed.map((p) => p.line)).toEqual([1, 2, 3, 4]);
  });
});
