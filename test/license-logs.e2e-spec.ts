import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { DataSource } from 'typeorm';
import type { ImportSummary } from '../src/license-logs/license-log-import.service';
import { TestApp } from './support/app';
import { createPool } from './support/catalog';

const FIXTURES = join(__dirname, 'fixtures', 'license-logs');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

const SHELFWARE = `query($p: ID!, $from: DateTime!, $to: DateTime!) {
  shelfwareReport(poolId: $p, from: $from, to: $to) { peakInUse averageInUse unusedCreditHours denials falseDenials suggestedCap cap }
}`;

/** A FlexNet debug log of one day, 2026-11-30, written by hand. */
function flexlmDay(lines: string[]): string {
  return [
    ' 7:59:59 (lmgrd) FlexNet Licensing (v11.16.2.0 build 242433 x64_n6) started on lic01 (IBM PC) (11/30/2026)',
    ' 8:00:00 (lmgrd) TIMESTAMP 11/30/2026',
    ...lines,
    '',
  ].join('\n');
}

/**
 * License-log import: FlexNet, RLM and lmstat logs through POST /v1/imports/{format} become
 * the pool's usage history, each event once, with the reports over them.
 */
describe('license-log import', () => {
  let t: TestApp;
  let db: DataSource;
  let org: { organizationId: string; adminKey: string };

  beforeAll(async () => {
    t = await TestApp.start();
    db = t.app.get(DataSource);
    org = await t.organization('license-logs');
  });

  afterAll(async () => {
    await t.close();
  });

  async function post(format: string, poolId: string, body: string | Buffer, options: { key?: string; tz?: string; headers?: Record<string, string> } = {}) {
    const query = new URLSearchParams({ poolId, ...(options.tz ? { tz: options.tz } : {}) });
    const req = request(t.server)
      .post(`/v1/imports/${format}?${query}`)
      .set('content-type', 'text/plain')
      .set(options.headers ?? {});
    if (options.key !== null) req.set('authorization', `Bearer ${options.key ?? org.adminKey}`);
    return req.send(body);
  }

  async function imported(
    format: string,
    poolId: string,
    body: string | Buffer,
    options: { tz?: string; headers?: Record<string, string> } = {},
  ): Promise<ImportSummary> {
    const res = await post(format, poolId, body, options);
    if (res.status !== 200) throw new Error(`${res.status}: ${res.text}`);
    return res.body as ImportSummary;
  }

  async function app(poolId: string, key: string, cost: number, externalNames: string[] = []): Promise<string> {
    const res = await t.gql<{ createApp: { id: string; externalNames: string[] } }>(
      org.adminKey,
      'mutation($input: CreateAppInput!) { createApp(input: $input) { id externalNames } }',
      { input: { poolId, key, name: key, cost, externalNames } },
    );
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    expect(res.data.createApp.externalNames).toEqual(externalNames);
    return res.data.createApp.id;
  }

  const leasesOf = (poolId: string): Promise<{ host: string; credits: number; acquired_at: Date; ended_at: Date; end_reason: string; name: string }[]> =>
    db.query(
      `SELECT l.host, l.credits, l.acquired_at, l.ended_at, l.end_reason, p.name FROM leases l JOIN principals p ON p.id = l.principal_id
       WHERE l.pool_id = $1 ORDER BY l.acquired_at, p.name`,
      [poolId],
    );

  it('imports a real FlexNet log: features by external name or key, users as USER principals, each event once', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 100, apps: [] });
    await app(pool.poolId, `acad-${pool.poolId.slice(0, 6)}`, 3, ['64300ACD_F']);
    await app(pool.poolId, '85730acd_2012_0f', 2);
    const log = fixture('flexlm-autodesk.log');
    const first = await imported('flexlm', pool.poolId, log, { tz: 'Europe/Paris' });
    expect(first).toMatchObject({
      format: 'flexlm',
      lines: log.split('\n').length - (log.endsWith('\n') ? 1 : 0),
      leases: 2,
      denials: 0,
      duplicates: 0,
      unmatchedFeatures: [],
    });
    expect(first.skippedLines).toBeGreaterThan(20); // the banner, SLOG and start lines
    // The server started at 1:56:05 Paris time on 3/30/2016 (summer time: 23:56:05 UTC the day
    // before); the checkouts came at 0:23:34 on 4/14 (after the TIMESTAMP 4/13 lines), 22:23:34 UTC on 4/13.
    expect(first.firstEvent).toBe('2016-03-29T23:56:05.000Z');
    const leases = await leasesOf(pool.poolId);
    expect(leases.map((l) => l.acquired_at.toISOString())).toEqual(['2016-04-13T22:23:34.000Z', '2016-04-13T22:23:34.000Z']);
    expect(leases.map((l) => [l.name, l.host, l.credits, l.end_reason])).toEqual(
      expect.arrayContaining([
        ['USER47', 'COMPUTER67', 3, 'imported'],
        ['USER47', 'COMPUTER67', 2, 'imported'],
      ]),
    );
    expect(leases.every((l) => l.ended_at.getTime() - l.acquired_at.getTime() === (29 * 60 + 10) * 1000)).toBe(true);
    const [{ kind }]: { kind: string }[] = await db.query(`SELECT kind FROM principals WHERE organization_id = $1 AND name = 'USER47'`, [org.organizationId]);
    expect(kind).toBe('USER');

    const again = await imported('flexlm', pool.poolId, log, { tz: 'Europe/Paris' });
    expect(again).toMatchObject({ leases: 0, denials: 0, duplicates: 2 });
    expect(await leasesOf(pool.poolId)).toHaveLength(2);
    const [{ n }]: { n: number }[] = await db.query(`SELECT count(*)::int AS n FROM principals WHERE organization_id = $1 AND name = 'USER47'`, [
      org.organizationId,
    ]);
    expect(n).toBe(1);
  });

  it('records the lines rotated files share once', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 100, apps: [] });
    await app(pool.poolId, `acad-rot-${pool.poolId.slice(0, 6)}`, 1, ['64300ACD_F', '85730ACD_2012_0F']);
    const one = await imported('flexlm', pool.poolId, fixture('flexlm-rotated-1.log'));
    const two = await imported('flexlm', pool.poolId, fixture('flexlm-rotated-2.log'));
    const total = (await leasesOf(pool.poolId)).length;
    expect(one.leases + two.leases).toBe(total);
    expect(two.duplicates).toBeGreaterThan(0);
    const distinctOuts = new Set(
      [fixture('flexlm-rotated-1.log'), fixture('flexlm-rotated-2.log')].flatMap((f) => f.split('\n').filter((l) => l.includes(' OUT: '))),
    );
    expect(total).toBeLessThanOrEqual(distinctOuts.size);
    expect(total).toBeGreaterThan(0);
  });

  it('ends at a restart and at the log end (estimated), then takes the real end from a later log', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 100, apps: [] });
    await app(pool.poolId, `cfd-${pool.poolId.slice(0, 6)}`, 5, ['CFD_SOLVER']);
    const first = await imported(
      'flexlm',
      pool.poolId,
      flexlmDay([
        ' 9:00:00 (ansyslmd) OUT: "CFD_SOLVER" anna@ws-1  ',
        ' 9:30:00 (ansyslmd) OUT: "CFD_SOLVER" ben@ws-2  ',
        '10:00:00 (ansyslmd) Server started on lic01 for: CFD_SOLVER',
        '10:05:00 (ansyslmd) OUT: "CFD_SOLVER" carl@ws-3  ',
        '10:30:00 (ansyslmd) OUT: "UNKNOWN_FEATURE" dora@ws-4  ',
      ]),
    );
    expect(first).toMatchObject({ leases: 3, estimatedEnds: 3, unmatchedFeatures: ['UNKNOWN_FEATURE'] });
    let leases = await leasesOf(pool.poolId);
    expect(leases.map((l) => [l.name, l.ended_at.toISOString(), l.end_reason])).toEqual([
      ['anna', '2026-11-30T10:00:00.000Z', 'imported (estimated end)'],
      ['ben', '2026-11-30T10:00:00.000Z', 'imported (estimated end)'],
      // The log's last event (the unmatched feature's line still tells the log's end).
      ['carl', '2026-11-30T10:30:00.000Z', 'imported (estimated end)'],
    ]);
    const second = await imported(
      'flexlm',
      pool.poolId,
      flexlmDay(['11:15:00 (ansyslmd) IN: "CFD_SOLVER" carl@ws-3  ', '11:20:00 (ansyslmd) IN: "CFD_SOLVER" nobody@ws-9  ']),
    );
    expect(second).toMatchObject({ leases: 0, estimatedEnds: 0 });
    expect(second.skippedLines).toBeGreaterThanOrEqual(1); // nobody's check-in has no checkout
    leases = await leasesOf(pool.poolId);
    expect(leases.find((l) => l.name === 'carl')).toMatchObject({ end_reason: 'imported', ended_at: new Date('2026-11-30T11:15:00Z') });
    const [draw]: { ended_at: Date; credit_seconds: string }[] = await db.query(
      `SELECT d.ended_at, d.credit_seconds FROM lease_draws d JOIN leases l ON l.id = d.id JOIN principals p ON p.id = l.principal_id WHERE l.pool_id = $1 AND p.name = 'carl'`,
      [pool.poolId],
    );
    expect(draw.ended_at.toISOString()).toBe('2026-11-30T11:15:00.000Z');
    expect(Number(draw.credit_seconds)).toBe(5 * 70 * 60);
  });

  it('matches hand-computed shelfware figures over a small imported log', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 10, apps: [] });
    await app(pool.poolId, `fea-${pool.poolId.slice(0, 6)}`, 2, ['FEA']);
    const summary = await imported(
      'flexlm',
      pool.poolId,
      flexlmDay([
        ' 9:00:00 (vd) OUT: "FEA" a@h1  ',
        '10:00:00 (vd) OUT: "FEA" b@h2  ',
        '10:30:00 (vd) DENIED: "FEA" c@h3  (Licensed number of users already reached. (-4,342))',
        '11:00:00 (vd) IN: "FEA" a@h1  ',
        '12:00:00 (vd) IN: "FEA" b@h2  ',
      ]),
    );
    expect(summary).toMatchObject({ leases: 2, denials: 1, estimatedEnds: 0, duplicates: 0 });
    // In use: 2 credits 09-10, 4 credits 10-11, 2 credits 11-12, none otherwise, over 08:00-14:00.
    const res = await t.gql<{ shelfwareReport: Record<string, number> }>(org.adminKey, SHELFWARE, {
      p: pool.poolId,
      from: '2026-11-30T08:00:00Z',
      to: '2026-11-30T14:00:00Z',
    });
    if (!res.data) throw new Error(JSON.stringify(res.errors));
    const report = res.data.shelfwareReport;
    expect(report.peakInUse).toBe(4);
    expect(report.averageInUse).toBeCloseTo(8 / 6, 3);
    expect(report.unusedCreditHours).toBeCloseTo(10 * 6 - 8, 3);
    expect(report.denials).toBe(1);
    expect(report.falseDenials).toBe(0);
    // The denial asked for 2 credits while 4 were held: a cap of 6 would have served it.
    expect(report.suggestedCap).toBe(6);
  });

  it('imports lmstat snapshots and RLM report logs', async () => {
    const lmstat = await createPool(t, org.adminKey, { cap: 100, apps: [] });
    const lmstatText = fixture('lmstat-snapshots.txt');
    const features = [...new Set([...lmstatText.matchAll(/^Users of ([^:]+):/gm)].map((m) => m[1]))];
    for (const [i, feature] of features.entries()) await app(lmstat.poolId, `lm-${i}-${lmstat.poolId.slice(0, 6)}`, 1, [feature]);
    const snap = await imported('lmstat', lmstat.poolId, lmstatText);
    expect(snap.leases).toBeGreaterThan(0);
    expect(snap.estimatedEnds).toBe(snap.leases);
    expect(await imported('lmstat', lmstat.poolId, lmstatText)).toMatchObject({ leases: 0, duplicates: snap.leases });

    const rlm = await createPool(t, org.adminKey, { cap: 100, apps: [] });
    const rlmText = fixture('rlm-reportlog.txt');
    const products = [...new Set([...rlmText.matchAll(/^(?:OUT|DENY) (\S+)/gm)].map((m) => m[1]))];
    for (const [i, product] of products.entries()) await app(rlm.poolId, `rlm-${i}-${rlm.poolId.slice(0, 6)}`, 1, [product]);
    const out = await imported('rlm', rlm.poolId, rlmText);
    expect(out.leases).toBe([...rlmText.matchAll(/^OUT /gm)].length);
    expect(out.unmatchedFeatures).toEqual([]);
  });

  it('takes gzip and refuses what is not a log of the format, with the line, recording nothing', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 100, apps: [] });
    await app(pool.poolId, `z-${pool.poolId.slice(0, 6)}`, 1, ['Z']);
    const log = flexlmDay([' 9:00:00 (vd) OUT: "Z" zoe@h  ', ' 9:10:00 (vd) IN: "Z" zoe@h  ']);
    expect(await imported('flexlm', pool.poolId, gzipSync(log), { headers: { 'content-type': 'application/octet-stream' } })).toMatchObject({ leases: 1 });

    const binary = Buffer.concat([Buffer.from(flexlmDay([' 9:20:00 (vd) OUT: "Z" yan@h  '])), Buffer.from([0x00, 0xff, 0x0a])]);
    const refused = await post('flexlm', pool.poolId, binary);
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', line: 4 });
    const prose = Array.from({ length: 150 }, (_, i) => `Line ${i} of a letter, not a log.`).join('\n');
    const wrong = await post('flexlm', pool.poolId, `\n\n${prose}`);
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', line: 3 });
    expect(wrong.body.errors[0].message).toMatch(/flexlm/);
    expect(await leasesOf(pool.poolId)).toHaveLength(1);
    const [{ n }]: { n: number }[] = await db.query(`SELECT count(*)::int AS n FROM principals WHERE organization_id = $1 AND name = 'yan'`, [
      org.organizationId,
    ]);
    expect(n).toBe(0);

    expect((await post('flexlm', pool.poolId, log, { tz: 'Mars/Olympus' })).body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'tz' });
    expect((await post('syslog', pool.poolId, log)).body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'format' });
  });

  it('runs one import of a pool at a time: a second one while the first streams answers RATE_LIMITED', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 100, apps: [] });
    await app(pool.poolId, `q-${pool.poolId.slice(0, 6)}`, 1, ['Q']);
    await t.app.listen(0, '127.0.0.1');
    const url = `${await t.app.getUrl()}/v1/imports/flexlm?poolId=${pool.poolId}`;
    const headers = { 'content-type': 'text/plain', authorization: `Bearer ${org.adminKey}` };
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode(flexlmDay([' 9:00:00 (vd) OUT: "Q" quinn@h  ']).trimEnd() + '\n'));
        await gate;
        controller.enqueue(encoder.encode(' 9:30:00 (vd) IN: "Q" quinn@h  \n'));
        controller.close();
      },
    });
    const first = fetch(url, { method: 'POST', headers, body, duplex: 'half' } as RequestInit);
    let second: Response | undefined;
    for (let i = 0; i < 50 && second?.status !== 429; i++) {
      await new Promise((r) => setTimeout(r, 100));
      second = await fetch(url, { method: 'POST', headers, body: flexlmDay([' 9:40:00 (vd) OUT: "Q" rosa@h  ']) });
    }
    expect(second!.status).toBe(429);
    expect(second!.headers.get('retry-after')).toBe('5');
    expect(((await second!.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe('RATE_LIMITED');
    release();
    const done = await first;
    expect(done.status).toBe(200);
    expect(((await done.json()) as ImportSummary).leases).toBe(1);
  });

  it('is for ADMIN keys of the pool’s organization', async () => {
    const pool = await createPool(t, org.adminKey, { cap: 100, apps: [] });
    const client = await t.principalWithKey(org.adminKey, 'CLIENT');
    const other = await t.organization('license-logs-other');
    const log = flexlmDay([' 9:00:00 (vd) OUT: "Z" zoe@h  ']);
    expect((await post('flexlm', pool.poolId, log, { key: client.key })).status).toBe(403);
    expect((await post('flexlm', pool.poolId, log, { key: other.adminKey })).status).toBe(404);
    const anonymous = await request(t.server).post(`/v1/imports/flexlm?poolId=${pool.poolId}`).set('content-type', 'text/plain').send(log);
    expect(anonymous.status).toBe(401);
    expect(await leasesOf(pool.poolId)).toHaveLength(0);
  });
});
