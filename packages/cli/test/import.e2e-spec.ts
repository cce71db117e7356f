import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ImportDocument } from '../src/commands/import';
import { startWorld, type CliWorld } from './support/cli';

/**
 * `tokenpool import` against a real API process with the built CLI as a child process: a
 * FlexNet log from a real Autodesk server (test/fixtures/license-logs) into a pool whose apps
 * match its features by external name and by key, the figures checked against the file's own
 * lines; the same file again (all duplicates); a .gz file sent as it is; binary junk refused
 * with its line; a CLIENT key refused with 77; `apps create --external-name`.
 */

const FIXTURE = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'license-logs', 'flexlm-autodesk.log');
const TEXT = readFileSync(FIXTURE, 'utf8');
const LINES = TEXT.split('\n').filter((l, i, all) => i < all.length - 1 || l !== '');
const OUT = LINES.filter((l) => /\(adskflex\) OUT: "/.test(l));
const IN = LINES.filter((l) => /\(adskflex\) IN: "/.test(l));
const DENIED = LINES.filter((l) => /\(adskflex\) DENIED: "/.test(l));
const FEATURES = [...new Set(OUT.map((l) => /OUT: "([^"]+)"/.exec(l)![1]))].sort();
const SHELFWARE = 'query($p: ID!, $from: DateTime!, $to: DateTime!) { shelfwareReport(poolId: $p, from: $from, to: $to) { apps { app { key } leases } } }';

describe('tokenpool import', () => {
  let world: CliWorld;
  let dir: string;
  let poolId: string;
  let poolName: string;
  /** The app matched by its external name (the feature 64300ACD_F) and the one matched by its key, in another case. */
  let byNameKey: string;
  let byKey: string;

  beforeAll(async () => {
    // The fixture is what the figures below are counted from: a change to it that leaves nothing to import fails here.
    if (OUT.length < 2 || FEATURES.length < 2) throw new Error(`fixture: ${OUT.length} OUT lines, features ${FEATURES.join(', ')}`);
    world = await startWorld('cli-import');
    dir = mkdtempSync(join(tmpdir(), 'tp-import-'));
    poolName = `cad-${randomUUID().slice(0, 8)}`;
    const pool = await world.run(['pools', 'create', poolName, '--cap', '10', '--json']);
    if (pool.code !== 0) throw new Error(pool.stderr);
    poolId = (JSON.parse(pool.stdout) as { id: string }).id;
    byNameKey = `autocad-${randomUUID().slice(0, 6)}`;
    byKey = FEATURES[1].toLowerCase();
  });

  afterEach(() => world.killAll());

  afterAll(async () => {
    await world?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('apps create --external-name: the server holds the names given', async () => {
    const made = await world.run([
      'apps',
      'create',
      '--pool',
      poolName,
      '--key',
      byNameKey,
      '--name',
      'AutoCAD',
      '--cost',
      '2',
      '--external-name',
      FEATURES[0],
      '--external-name',
      `${FEATURES[0]}_OLD`,
    ]);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(made.stdout).toContain(`external names ${FEATURES[0]}, ${FEATURES[0]}_OLD`);
    const plain = await world.run(['apps', 'create', '--pool', poolId, '--key', byKey, '--name', 'AutoCAD 2012', '--cost', '3', '--json']);
    expect(plain.code).toBe(0);
    expect((JSON.parse(plain.stdout) as { externalNames: string[] }).externalNames).toEqual([]);
    const { pool } = await world.gql<{ pool: { apps: { key: string; externalNames: string[] }[] } }>(
      'query($id: ID!) { pool(id: $id) { apps { key externalNames } } }',
      { id: poolId },
    );
    expect(pool.apps.find((a) => a.key === byNameKey)?.externalNames).toEqual([FEATURES[0], `${FEATURES[0]}_OLD`]);
    expect(pool.apps.find((a) => a.key === byKey)?.externalNames).toEqual([]);
  });

  it('imports the FlexNet log: its check-outs become leases of the matching apps, in the log time zone', async () => {
    const run = await world.run(['import', '--pool', poolName, '--format', 'flexlm', '--tz', 'Europe/Madrid', '--json', FIXTURE]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout) as ImportDocument;
    expect(doc.pool).toEqual({ id: poolId, name: poolName });
    expect(doc.files).toHaveLength(1);
    const [file] = doc.files;
    expect(file.file).toBe(FIXTURE);
    expect(file.format).toBe('flexlm');
    expect(file.lines).toBe(LINES.length);
    expect(file.leases).toBe(OUT.length);
    expect(file.denials).toBe(DENIED.length);
    expect(file.duplicates).toBe(0);
    // Every check-out has its check-in in this file: no end estimated.
    expect(IN.length).toBe(OUT.length);
    expect(file.estimatedEnds).toBe(0);
    expect(file.unmatchedFeatures).toEqual([]);
    // Not events: everything but the OUT, IN and DENIED lines (banner, SLOG block, TIMESTAMPs) is read and skipped or used for the date.
    expect(file.skippedLines).toBeGreaterThan(0);
    expect(file.skippedLines).toBeLessThanOrEqual(LINES.length - OUT.length - IN.length - DENIED.length);
    // The first event is lmgrd's start on 3/30/2016 at 1:56:05 in Madrid (CEST, UTC+2); the last the check-in at 0:52:44
    // on 4/14/2016 (after the 4/13 TIMESTAMP, past midnight).
    expect(file.firstEvent).toBe('2016-03-29T23:56:05.000Z');
    expect(file.lastEvent).toBe('2016-04-13T22:52:44.000Z');
    expect(doc.total).toMatchObject({ files: 1, leases: OUT.length, denials: DENIED.length, duplicates: 0, lines: LINES.length });

    // The pool's shelfware report over that window counts one lease per app, like live usage.
    const { shelfwareReport } = await world.gql<{ shelfwareReport: { apps: { app: { key: string }; leases: number }[] } }>(SHELFWARE, {
      p: poolId,
      from: '2016-04-13T22:00:00.000Z',
      to: '2016-04-13T23:00:00.000Z',
    });
    const leasesOf = Object.fromEntries(shelfwareReport.apps.map((a) => [a.app.key, a.leases]));
    expect(leasesOf).toEqual({ [byNameKey]: 1, [byKey]: 1 });
  });

  it('imports the same file again, gzip-compressed by the user: every event a duplicate, nothing new', async () => {
    const gz = join(dir, 'adskflex.log.gz');
    writeFileSync(gz, gzipSync(TEXT));
    const run = await world.run(['import', '--pool', poolId, '--format', 'flexlm', '--tz', 'Europe/Madrid', gz]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('adskflex.log.gz: 0 leases, 0 denials recorded;');
    const duplicates = Number(/; (\d+) duplicates?,/.exec(run.stdout)?.[1]);
    // Each check-out (with its check-in) and denial of the file was recorded by the first import.
    expect(duplicates).toBe(OUT.length + DENIED.length);
    const { shelfwareReport } = await world.gql<{ shelfwareReport: { apps: { app: { key: string }; leases: number }[] } }>(SHELFWARE, {
      p: poolId,
      from: '2016-04-13T22:00:00.000Z',
      to: '2016-04-13T23:00:00.000Z',
    });
    expect(shelfwareReport.apps.map((a) => a.leases)).toEqual([1, 1]);
  });

  it('prints a summary per file and their total, in the order given; features no app matches are listed', async () => {
    const other = await world.run(['pools', 'create', `empty-${randomUUID().slice(0, 8)}`, '--cap', '5', '--json']);
    const otherId = (JSON.parse(other.stdout) as { id: string }).id;
    const copy = join(dir, 'copy.log');
    writeFileSync(copy, TEXT);
    const run = await world.run(['import', '--pool', otherId, '--format', 'flexlm', FIXTURE, copy]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = run.stdout.split('\n');
    const first = out.findIndex((l) => l.startsWith('flexlm-autodesk.log: '));
    const second = out.findIndex((l) => l.startsWith('copy.log: '));
    const total = out.findIndex((l) => l.startsWith('Total (2 files): '));
    expect(first).toBeGreaterThanOrEqual(0);
    expect(second).toBeGreaterThan(first);
    expect(total).toBeGreaterThan(second);
    expect(run.stdout).toContain(`unmatched features (no app of the pool; nothing recorded for them): ${FEATURES.join(', ')}`);
    expect(out[total]).toContain(`Total (2 files): 0 leases, 0 denials recorded;`);
    expect(out[total]).toContain(`(${LINES.length * 2} lines read)`);
  });

  it('refuses a file of binary junk with its line number, exit 1, and sends no file after it', async () => {
    const junk = join(dir, 'junk.log');
    writeFileSync(junk, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37 + 11) % 256)));
    const run = await world.run(['import', '--pool', poolId, '--format', 'flexlm', junk, FIXTURE]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^tokenpool import: .*junk\.log: line 1: .+ \(BAD_USER_INPUT\)\n/);
    expect(run.stderr).toContain('1 file after it not imported');
    expect(run.stdout).toBe('');
  });

  it('refuses a CLIENT key with exit code 77, and an unknown format as a usage error', async () => {
    const { createPrincipal } = await world.gql<{ createPrincipal: { id: string } }>(
      'mutation($i: CreatePrincipalInput!) { createPrincipal(input: $i) { id } }',
      { i: { name: `importer-${randomUUID().slice(0, 8)}`, kind: 'AGENT', orgUnitKind: 'GOING_CONCERN' } },
    );
    const { createApiKey } = await world.gql<{ createApiKey: { secret: string } }>(
      'mutation($p: ID!) { createApiKey(principalId: $p, role: CLIENT) { secret } }',
      { p: createPrincipal.id },
    );
    const client = await world.run(['import', '--pool', poolId, '--format', 'flexlm', FIXTURE], { TOKENPOOL_API_KEY: createApiKey.secret });
    expect(client.code).toBe(77);
    expect(client.stderr).toContain('(FORBIDDEN)');
    expect(client.stderr).not.toContain(createApiKey.secret);

    const usage = await world.run(['import', '--pool', poolId, '--format', 'netlm', FIXTURE]);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain('--format must be one of flexlm, rlm, lmstat, not "netlm"');
  });
});
