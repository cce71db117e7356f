import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorld, type CliWorld } from './support/cli';

/**
 * `tokenpool ledger export` and `tokenpool ledger verify` against a real API process, with the
 * built CLI as a child process: compute usage recorded by a CLIENT key and sealed twice by the
 * ADMIN, exported to a file byte for byte, verified offline; one character changed or a row
 * deleted in a copy is found at its seal with its reason (exit 65); who may export.
 */

const RECORD = 'mutation($events: [ComputeUsageInput!]!) { recordComputeUsage(events: $events) { accepted } }';
const SEAL = 'mutation { sealLedger { sequence rows digest } }';

interface Seal {
  sequence: number;
  rows: number;
  digest: string;
}

describe('tokenpool ledger export / verify', () => {
  let world: CliWorld;
  let clientKey: string;
  let viewerKey: string;
  let dir: string;
  const seals: Seal[] = [];

  const cli = (args: string[], env: Record<string, string> = {}) => world.run(args, env);

  async function keyFor(role: 'CLIENT' | 'VIEWER'): Promise<string> {
    const { createPrincipal } = await world.gql<{ createPrincipal: { id: string } }>(
      'mutation($i: CreatePrincipalInput!) { createPrincipal(input: $i) { id } }',
      { i: { name: `ledger-${role.toLowerCase()}-${randomUUID().slice(0, 8)}`, kind: 'AGENT', orgUnitKind: 'GOING_CONCERN', team: 'audit' } },
    );
    const { createApiKey } = await world.gql<{ createApiKey: { secret: string } }>(
      `mutation($p: ID!) { createApiKey(principalId: $p, role: ${role}) { secret } }`,
      { p: createPrincipal.id },
    );
    return createApiKey.secret;
  }

  async function record(n: number): Promise<void> {
    const events = Array.from({ length: n }, (_, i) => ({
      eventId: `cli-ledger-${randomUUID()}`,
      provider: 'openai',
      model: 'gpt-cli-ledger',
      inputTokens: 100 + i,
      outputTokens: 7,
      cost: 0.0125,
      occurredAt: new Date(Date.now() - i * 1000).toISOString(),
    }));
    const { recordComputeUsage } = await world.gql<{ recordComputeUsage: { accepted: number } }>(RECORD, { events }, clientKey);
    if (recordComputeUsage.accepted !== n) throw new Error(`recorded ${recordComputeUsage.accepted} of ${n} events`);
  }

  async function seal(): Promise<Seal> {
    const { sealLedger } = await world.gql<{ sealLedger: Seal | null }>(SEAL);
    if (!sealLedger) throw new Error('sealLedger sealed nothing');
    return sealLedger;
  }

  beforeAll(async () => {
    world = await startWorld('cli-ledger');
    clientKey = await keyFor('CLIENT');
    viewerKey = await keyFor('VIEWER');
    dir = mkdtempSync(join(tmpdir(), 'tokenpool-ledger-'));
    await record(3);
    seals.push(await seal());
    await record(2);
    seals.push(await seal());
  });

  afterEach(() => world.killAll());

  afterAll(async () => {
    await world?.close();
  });

  it('exports every seal to a file, byte for byte what the server sends, and prints the counts', async () => {
    expect(seals.map((s) => [s.sequence, s.rows])).toEqual([
      [1, 3],
      [2, 2],
    ]);
    const out = join(dir, 'audit.jsonl');
    const exported = await cli(['ledger', 'export', '--out', out]);
    expect(exported).toMatchObject({ code: 0, stdout: `Wrote 2 seals, 5 rows to ${out}\n` });

    const file = readFileSync(out, 'utf8');
    const response = await fetch(`${world.api.url}/exports/ledger-audit.jsonl`, { headers: { authorization: `Bearer ${world.adminKey}` } });
    expect(response.status).toBe(200);
    expect(file).toBe(await response.text());
    const sealLines = file
      .split('\n')
      .filter((line) => line.startsWith('{"seal":'))
      .map((line) => JSON.parse(line) as { seal: number; digest: string });
    expect(sealLines.map((s) => [s.seal, s.digest])).toEqual(seals.map((s) => [s.sequence, s.digest]));
  });

  it('verifies the real export offline: exit 0 and the counts, with no server and no key', async () => {
    const out = join(dir, 'verify.jsonl');
    expect((await cli(['ledger', 'export', '--out', out])).code).toBe(0);
    // Nothing listens on port 9 and there is no key: the check must not need either.
    const offline = { TOKENPOOL_URL: 'http://127.0.0.1:9', TOKENPOOL_API_KEY: '' };
    const verified = await cli(['ledger', 'verify', '--file', out], offline);
    expect(verified).toMatchObject({ code: 0, stdout: '2 seals, 5 rows: every digest matches\n' });
    const json = await cli(['ledger', 'verify', '--file', out, '--json'], offline);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, seals: 2, rows: 5, firstBrokenSeal: null, reason: null, file: out });
  });

  it('finds one character changed in a row of seal 2: exit 65, naming the seal and DIGEST_MISMATCH', async () => {
    const out = join(dir, 'tamper-source.jsonl');
    expect((await cli(['ledger', 'export', '--out', out])).code).toBe(0);
    const lines = readFileSync(out, 'utf8').split('\n');
    // The first row line after seal 2's line: its input_tokens, one digit changed.
    const index = lines.findIndex((line) => line.startsWith('{"seal":2,')) + 1;
    const changed = lines[index].replace(/"input_tokens":"(\d)/, (_, d: string) => `"input_tokens":"${d === '9' ? '8' : Number(d) + 1}`);
    expect(changed).not.toBe(lines[index]);
    expect(changed.length).toBe(lines[index].length);
    const copy = join(dir, 'tampered.jsonl');
    writeFileSync(copy, [...lines.slice(0, index), changed, ...lines.slice(index + 1)].join('\n'));

    const verified = await cli(['ledger', 'verify', '--file', copy]);
    expect(verified.code).toBe(65);
    expect(verified.stdout).toContain('seal 2 is broken: DIGEST_MISMATCH');
    const json = await cli(['ledger', 'verify', '--file', copy, '--json']);
    expect(json.code).toBe(65);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, firstBrokenSeal: 2, reason: 'DIGEST_MISMATCH', seals: 2 });
  });

  it('finds a row line deleted from seal 1: exit 65, ROWS_MISSING at seal 1', async () => {
    const out = join(dir, 'delete-source.jsonl');
    expect((await cli(['ledger', 'export', '--out', out])).code).toBe(0);
    const lines = readFileSync(out, 'utf8').split('\n');
    const copy = join(dir, 'deleted.jsonl');
    writeFileSync(copy, [...lines.slice(0, 2), ...lines.slice(3)].join('\n'));
    const verified = await cli(['ledger', 'verify', '--file', copy]);
    expect(verified.code).toBe(65);
    expect(verified.stdout).toContain('seal 1 is broken: ROWS_MISSING');
  });

  it('exports a range of seals, which verifies on its own', async () => {
    const out = join(dir, 'range.jsonl');
    expect(await cli(['ledger', 'export', '--out', out, '--from-sequence', '2', '--to-sequence', '2'])).toMatchObject({
      code: 0,
      stdout: `Wrote 1 seals, 2 rows to ${out}\n`,
    });
    expect(await cli(['ledger', 'verify', '--file', out])).toMatchObject({ code: 0, stdout: '1 seals, 2 rows: every digest matches\n' });
  });

  it('lets a VIEWER key export, and refuses a CLIENT key with the FORBIDDEN exit (77), writing nothing', async () => {
    const viewerOut = join(dir, 'viewer.jsonl');
    expect(await cli(['ledger', 'export', '--out', viewerOut], { TOKENPOOL_API_KEY: viewerKey })).toMatchObject({
      code: 0,
      stdout: `Wrote 2 seals, 5 rows to ${viewerOut}\n`,
    });
    const clientOut = join(dir, 'client.jsonl');
    const refused = await cli(['ledger', 'export', '--out', clientOut], { TOKENPOOL_API_KEY: clientKey });
    expect(refused.code).toBe(77);
    expect(refused.stderr).toContain('FORBIDDEN');
    expect(existsSync(clientOut)).toBe(false);
  });

  it("passes the server's BAD_USER_INPUT on (exit 1), and refuses usage errors and unreadable files before any call", async () => {
    const out = join(dir, 'bad.jsonl');
    const bad = await cli(['ledger', 'export', '--out', out, '--from-sequence', '12345678901']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('BAD_USER_INPUT');
    expect(existsSync(out)).toBe(false);

    const reversed = await cli(['ledger', 'export', '--out', out, '--from-sequence', '3', '--to-sequence', '2']);
    expect(reversed.code).toBe(1);
    expect(reversed.stderr).toContain('--to-sequence must be at least --from-sequence');
    const missing = await cli(['ledger', 'verify', '--file', join(dir, 'no-such-file.jsonl')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no file');
    const noFile = await cli(['ledger', 'verify']);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toContain('missing --file');
  });
});
