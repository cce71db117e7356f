import { randomUUID } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { TokenpoolClient, TokenpoolError } from '@tokenpool/client';
import { useSdkWorld } from './fixtures';

/**
 * client.importLicenseLog against a real API process: an RLM report log sent as a Buffer, a
 * FlexNet log streamed from a file and gzip-compressed on the way, a web ReadableStream, and
 * the refusals (line of a body that is not of the format, a CLIENT key, an unknown pool) as
 * TokenpoolErrors with the server's code and extensions.
 */

const FIXTURES = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'license-logs');
const FLEXLM = join(FIXTURES, 'flexlm-autodesk.log');
const FLEXLM_TEXT = readFileSync(FLEXLM, 'utf8');
const OUT = FLEXLM_TEXT.split('\n').filter((l) => /\) OUT: "/.test(l));
const FEATURES = [...new Set(OUT.map((l) => /OUT: "([^"]+)"/.exec(l)![1]))].sort();
const LINE_COUNT = FLEXLM_TEXT.split('\n').length - (FLEXLM_TEXT.endsWith('\n') ? 1 : 0);

describe('SDK importLicenseLog', () => {
  const world = useSdkWorld();
  let poolId: string;

  beforeAll(async () => {
    const pool = await world.admin.createPool({ name: `import-${randomUUID()}`, cap: 10 });
    poolId = pool.id;
    // One feature matched by an external name, the other by the app's key (any case).
    const named = await world.admin.createApp({ poolId, key: `acad-${randomUUID().slice(0, 6)}`, name: 'AutoCAD', cost: 1, externalNames: [FEATURES[0]] });
    if (named.externalNames.join() !== FEATURES[0]) throw new Error(`createApp answered externalNames ${JSON.stringify(named.externalNames)}`);
    await world.admin.createApp({ poolId, key: FEATURES[1].toLowerCase(), name: 'AutoCAD 2012', cost: 1 });
  });

  it('imports a file streamed and gzip-compressed on the way, then the same bytes as a Buffer: all duplicates', async () => {
    const first = await world.admin.importLicenseLog({ poolId, format: 'flexlm', timeZone: 'Europe/Madrid', body: createReadStream(FLEXLM), gzip: true });
    expect(first).toEqual({
      importId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      format: 'flexlm',
      lines: LINE_COUNT,
      leases: OUT.length,
      denials: 0,
      duplicates: 0,
      skippedLines: expect.any(Number),
      estimatedEnds: 0,
      unmatchedFeatures: [],
      // lmgrd's start line (3/30/2016 1:56:05 in Madrid) to the last check-in (4/14/2016 0:52:44).
      firstEvent: '2016-03-29T23:56:05.000Z',
      lastEvent: '2016-04-13T22:52:44.000Z',
    });
    const again = await world.admin.importLicenseLog({ poolId, format: 'flexlm', timeZone: 'Europe/Madrid', body: Buffer.from(FLEXLM_TEXT) });
    expect(again.importId).not.toBe(first.importId);
    expect(again).toMatchObject({ lines: LINE_COUNT, leases: 0, denials: 0, skippedLines: first.skippedLines, firstEvent: first.firstEvent });
    expect(again.duplicates).toBe(OUT.length);
  });

  it('takes a web ReadableStream and a Node stream as the body', async () => {
    const other = await world.admin.createPool({ name: `import-web-${randomUUID()}`, cap: 5 });
    const web = Readable.toWeb(Readable.from([Buffer.from(FLEXLM_TEXT)])) as unknown as ReadableStream<Uint8Array>;
    const summary = await world.admin.importLicenseLog({ poolId: other.id, format: 'flexlm', body: web });
    // No app in that pool: nothing recorded, both features reported; UTC by default (two hours later than in Madrid).
    expect(summary).toMatchObject({ leases: 0, unmatchedFeatures: FEATURES, firstEvent: '2016-03-30T01:56:05.000Z', lastEvent: '2016-04-14T00:52:44.000Z' });
    const node = await world.admin.importLicenseLog({
      poolId: other.id,
      format: 'flexlm',
      body: Readable.from([FLEXLM_TEXT.slice(0, 100), FLEXLM_TEXT.slice(100)]),
    });
    expect(node).toMatchObject({ lines: LINE_COUNT, leases: 0, unmatchedFeatures: FEATURES });
  });

  it('refuses a body that is not of the format with its first line, as BAD_USER_INPUT', async () => {
    const rlmAsFlexlm = readFileSync(join(FIXTURES, 'rlm-reportlog.txt'));
    const err = await world.admin.importLicenseLog({ poolId, format: 'flexlm', body: rlmAsFlexlm }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenpoolError);
    expect((err as TokenpoolError).code).toBe('BAD_USER_INPUT');
    expect((err as TokenpoolError).status).toBe(400);
    expect((err as TokenpoolError).line).toBe(1);
    expect((err as TokenpoolError).extensions.line).toBe(1);

    const junk = Buffer.from('not a log\n\u0000\u0001\u0002 binary\n');
    const binary = await world.admin.importLicenseLog({ poolId, format: 'flexlm', body: junk, gzip: true }).catch((e: unknown) => e);
    expect(binary).toMatchObject({ code: 'BAD_USER_INPUT', line: 2 });

    const zone = await world.admin
      .importLicenseLog({ poolId, format: 'flexlm', timeZone: 'Mars/Olympus', body: Buffer.from(FLEXLM_TEXT) })
      .catch((e: unknown) => e);
    expect(zone).toMatchObject({ code: 'BAD_USER_INPUT', field: expect.stringMatching(/tz/) });
  });

  it('refuses a CLIENT key (FORBIDDEN) and an unknown pool (NOT_FOUND)', async () => {
    const { createPrincipal } = await world.admin.request<{ createPrincipal: { id: string } }>(
      'mutation($i: CreatePrincipalInput!) { createPrincipal(input: $i) { id } }',
      { i: { name: `sdk-importer-${randomUUID().slice(0, 8)}`, kind: 'AGENT', orgUnitKind: 'GOING_CONCERN' } },
    );
    const { createApiKey } = await world.admin.request<{ createApiKey: { secret: string } }>(
      'mutation($p: ID!) { createApiKey(principalId: $p, role: CLIENT) { secret } }',
      { p: createPrincipal.id },
    );
    const client = new TokenpoolClient({ url: world.api.url, apiKey: createApiKey.secret });
    try {
      const forbidden = await client.importLicenseLog({ poolId, format: 'flexlm', body: Buffer.from(FLEXLM_TEXT) }).catch((e: unknown) => e);
      expect(forbidden).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    } finally {
      await client.close();
    }
    const missing = await world.admin.importLicenseLog({ poolId: randomUUID(), format: 'flexlm', body: Buffer.from(FLEXLM_TEXT) }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'NOT_FOUND', status: 404 });
  });
});
