import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { startApi, waitFor } from '../../../test/support/processes';
import { startWorld, type CliWorld } from './support/cli';

/**
 * `tokenpool run` against a real API process, the built CLI as a child process and a real
 * child command: the lease follows the command's life, and every way it ends (its own exit, a
 * revocation, Ctrl+C, a refusal) gives the documented exit code.
 */

/** The child command: records its environment and the signals it gets, exits when told to. */
const SLEEPER = `
const fs = require('node:fs');
const path = require('node:path');
const [dir, exitCode, onSignalCode] = process.argv.slice(2);
const keys = ['TOKENPOOL_LEASE_ID', 'TOKENPOOL_FENCING_TOKEN', 'TOKENPOOL_LEASE_PROOF', 'TOKENPOOL_LEASE_PROOF_FILE'];
fs.writeFileSync(path.join(dir, 'env.tmp'), JSON.stringify(Object.fromEntries(keys.map((k) => [k, process.env[k]]))));
fs.renameSync(path.join(dir, 'env.tmp'), path.join(dir, 'env.json'));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    fs.appendFileSync(path.join(dir, 'signals'), signal + '\\n');
    if (onSignalCode !== 'ignore') process.exit(Number(onSignalCode));
  });
}
setInterval(() => {
  if (fs.existsSync(path.join(dir, 'stop'))) process.exit(Number(exitCode));
}, 50);
`;

describe('tokenpool run', () => {
  let world: CliWorld;
  let work: string;

  const gql = <T>(query: string, variables?: Record<string, unknown>) => world.gql<T>(query, variables);
  const cli = (args: string[]) => world.start(args);
  const leaseState = async (id: string) => (await gql<{ lease: { state: string } }>('query($id: ID!) { lease(id: $id) { state } }', { id })).lease.state;

  /** A pool of `cap` with one app of `cost`, through the API. */
  async function pool(cap: number, cost: number): Promise<{ id: string; name: string; app: string }> {
    const name = `cli-run-${randomUUID().slice(0, 8)}`;
    const { createPool } = await gql<{ createPool: { id: string } }>('mutation($i: CreatePoolInput!) { createPool(input: $i) { id } }', { i: { name, cap } });
    const app = `solver-${randomUUID().slice(0, 8)}`;
    await gql('mutation($i: CreateAppInput!) { createApp(input: $i) { id } }', { i: { poolId: createPool.id, key: app, name: 'Solver', cost } });
    return { id: createPool.id, name, app };
  }

  /** A fresh directory with the sleeper in it; the sleeper writes its records there. */
  function sleeper(): { dir: string; command: (exitCode: number, onSignalCode: number | 'ignore') => string[] } {
    const dir = mkdtempSync(join(work, 'child-'));
    writeFileSync(join(dir, 'sleeper.js'), SLEEPER);
    return { dir, command: (exitCode, onSignalCode) => ['--', process.execPath, join(dir, 'sleeper.js'), dir, String(exitCode), String(onSignalCode)] };
  }

  const childEnv = (dir: string) => JSON.parse(readFileSync(join(dir, 'env.json'), 'utf8')) as Record<string, string | undefined>;
  const started = (dir: string) => waitFor(async () => existsSync(join(dir, 'env.json')), 'the child to start', 30_000);

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tokenpool-cli-e2e-'));
    world = await startWorld('cli-run');
  });

  afterEach(() => world.killAll());

  afterAll(async () => {
    await world?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('holds an ACTIVE lease while the command runs, refreshes the proof file, checks in at exit and passes the exit code on', async () => {
    const p = await pool(10, 4);
    const child = sleeper();
    const ref = `job-${randomUUID()}`;
    const run = cli(['run', '--pool', p.name, '--app', p.app, '--host', 'ws-e2e', '--lease-seconds', '6', '--work-unit', ref, ...child.command(3, 9)]);
    await started(child.dir);
    const env = childEnv(child.dir);
    expect(env.TOKENPOOL_LEASE_ID).toMatch(/\S/);
    expect(env.TOKENPOOL_FENCING_TOKEN).toMatch(/^\d+$/);
    const lease = await gql<{ lease: { state: string; host: string; credits: number; fencingToken: string; workUnit: { externalRef: string } } }>(
      'query($id: ID!) { lease(id: $id) { state host credits fencingToken workUnit { externalRef } } }',
      { id: env.TOKENPOOL_LEASE_ID },
    );
    expect(lease.lease).toEqual({ state: 'ACTIVE', host: 'ws-e2e', credits: 4, fencingToken: env.TOKENPOOL_FENCING_TOKEN, workUnit: { externalRef: ref } });

    // The proof file: private, first the check-out's proof, then a fresh one after a heartbeat (every ~2 s here).
    const file = env.TOKENPOOL_LEASE_PROOF_FILE ?? '';
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const first = readFileSync(file, 'utf8').trim();
    expect(first).toBe(env.TOKENPOOL_LEASE_PROOF);
    await waitFor(async () => readFileSync(file, 'utf8').trim() !== first, 'the proof file to be rewritten after a heartbeat', 30_000);
    const fresh = readFileSync(file, 'utf8').trim();
    const jwks = createRemoteJWKSet(new URL(`${world.api.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(fresh, jwks, { issuer: 'tokenpool', algorithms: ['EdDSA'] });
    expect(payload.sub).toBe(env.TOKENPOOL_LEASE_ID);
    expect(payload.exp).toBeGreaterThan(decodeJwt(first).exp ?? Infinity);

    writeFileSync(join(child.dir, 'stop'), '');
    expect(await run.exited).toBe(3);
    expect(await leaseState(env.TOKENPOOL_LEASE_ID ?? '')).toBe('RELEASED');
    expect(existsSync(file)).toBe(false);
    expect(run.stderr).not.toContain(world.adminKey);
  });

  it('sends SIGTERM to the command and exits 75 when the lease is revoked under it', async () => {
    const p = await pool(10, 2);
    const child = sleeper();
    const run = cli(['run', '--pool', p.id, '--app', p.app, '--lease-seconds', '6', '--grace', '5', ...child.command(0, 0)]);
    await started(child.dir);
    const leaseId = childEnv(child.dir).TOKENPOOL_LEASE_ID;
    await gql('mutation($id: ID!) { revokeLease(leaseId: $id, reason: "e2e harvest") { state } }', { id: leaseId });
    // The next heartbeat (within ~2 s) learns it; then SIGTERM.
    expect(await run.exited).toBe(75);
    expect(readFileSync(join(child.dir, 'signals'), 'utf8')).toBe('SIGTERM\n');
    expect(run.stderr).toMatch(/lease lost: .*REVOKED/);
    expect(run.stderr).toContain(leaseId);
    expect(run.stderr).toContain('exit code 75 as the lease was lost');
    expect(await leaseState(leaseId ?? '')).toBe('REVOKED');
  });

  it('sends SIGKILL after --grace to a command that ignores SIGTERM, and still exits 75', async () => {
    const p = await pool(10, 2);
    const child = sleeper();
    const run = cli(['run', '--pool', p.id, '--app', p.app, '--lease-seconds', '6', '--grace', '1', ...child.command(0, 'ignore')]);
    await started(child.dir);
    await gql('mutation($id: ID!) { revokeLease(leaseId: $id) { state } }', { id: childEnv(child.dir).TOKENPOOL_LEASE_ID });
    await waitFor(async () => existsSync(join(child.dir, 'signals')), 'the SIGTERM', 30_000);
    const termAt = Date.now();
    expect(await run.exited).toBe(75);
    expect(Date.now() - termAt).toBeGreaterThanOrEqual(700);
    expect(readFileSync(join(child.dir, 'signals'), 'utf8')).toBe('SIGTERM\n');
    expect(run.stderr).toContain('SIGKILL in 1 s if it is still running');
  });

  it('stops the command and exits 75 when no heartbeat gets through before the lease expires (its API is gone)', async () => {
    const p = await pool(10, 1);
    // An API of its own, so that stopping it leaves the other tests theirs.
    const lonely = await startApi();
    try {
      const child = sleeper();
      const run = world.start(['run', '--pool', p.id, '--app', p.app, '--lease-seconds', '5', '--grace', '1', ...child.command(0, 0)], {
        TOKENPOOL_URL: lonely.url,
      });
      await started(child.dir);
      const leaseId = childEnv(child.dir).TOKENPOOL_LEASE_ID ?? '';
      await lonely.stop();
      const stoppedAt = Date.now();
      expect(await run.exited).toBe(75);
      // Lost at the lease's local expiry: at most its 5 s after the last heartbeat that got through.
      expect(Date.now() - stoppedAt).toBeLessThan(10_000);
      expect(readFileSync(join(child.dir, 'signals'), 'utf8')).toBe('SIGTERM\n');
      expect(run.stderr).toContain('LEASE_LOST');
      // The server, reached through the other API, counts it ended from its expiry on.
      await waitFor(async () => (await leaseState(leaseId)) !== 'ACTIVE', 'the lease to expire on the server', 30_000);
    } finally {
      await lonely.stop();
    }
  });

  it('exits 69 with the refusal and its figures when the pool has no credits for the app', async () => {
    const p = await pool(3, 2);
    await gql('mutation($i: CheckoutInput!) { checkout(input: $i) { id } }', { i: { poolId: p.id, app: p.app, leaseSeconds: 60 } });
    const child = sleeper();
    const run = cli(['run', '--pool', p.name, '--app', p.app, ...child.command(0, 0)]);
    expect(await run.exited).toBe(69);
    expect(run.stderr).toContain('POOL_EXHAUSTED');
    expect(run.stderr).toContain('available 1');
    expect(run.stderr).toContain('requested 2');
    expect(existsSync(join(child.dir, 'env.json'))).toBe(false);
  });

  it('waits in the queue with --wait until credits come free, and exits 69 with QUEUE_TIMEOUT when none do', async () => {
    const p = await pool(2, 2);
    const { checkout } = await gql<{ checkout: { id: string } }>('mutation($i: CheckoutInput!) { checkout(input: $i) { id } }', {
      i: { poolId: p.id, app: p.app, leaseSeconds: 60 },
    });
    const timedOut = cli(['run', '--pool', p.name, '--app', p.app, '--wait', '1', '--', process.execPath, '-e', '']);
    expect(await timedOut.exited).toBe(69);
    expect(timedOut.stderr).toContain('QUEUE_TIMEOUT');

    const child = sleeper();
    const waiting = cli(['run', '--pool', p.name, '--app', p.app, '--wait', '30', ...child.command(0, 0)]);
    const queued = async () =>
      (await gql<{ pool: { queueLength: number } }>('query($id: ID!) { pool(id: $id) { queueLength } }', { id: p.id })).pool.queueLength;
    await waitFor(async () => (await queued()) === 1, 'the CLI to wait in the queue', 30_000);
    expect(waiting.stderr).toContain('waiting up to 30 s');
    expect(existsSync(join(child.dir, 'env.json'))).toBe(false);
    await gql('mutation($id: ID!) { checkin(leaseId: $id) { id } }', { id: checkout.id });
    await started(child.dir);
    writeFileSync(join(child.dir, 'stop'), '');
    expect(await waiting.exited).toBe(0);
  });

  it('passes SIGINT on to the command, checks the lease in and exits with the command’s code', async () => {
    const p = await pool(10, 1);
    const child = sleeper();
    const run = cli(['run', '--pool', p.name, '--app', p.app, '--quiet', ...child.command(0, 7)]);
    await started(child.dir);
    const leaseId = childEnv(child.dir).TOKENPOOL_LEASE_ID ?? '';
    expect(await leaseState(leaseId)).toBe('ACTIVE');
    run.proc.kill('SIGINT');
    expect(await run.exited).toBe(7);
    expect(readFileSync(join(child.dir, 'signals'), 'utf8')).toBe('SIGINT\n');
    expect(await leaseState(leaseId)).toBe('RELEASED');
    expect(run.stderr).toBe('');
  });

  it('exits 128 + the signal number when the command dies of a signal, and 127 when it does not exist', async () => {
    const p = await pool(10, 1);
    const killed = cli(['run', '--pool', p.name, '--app', p.app, '--quiet', '--', process.execPath, '-e', 'process.kill(process.pid, "SIGKILL")']);
    expect(await killed.exited).toBe(128 + 9);
    const missing = cli(['run', '--pool', p.name, '--app', p.app, '--quiet', '--', join(work, 'no-such-command')]);
    expect(await missing.exited).toBe(127);
    expect(missing.stderr).toContain('could not start');
    const leases = await gql<{ leases: unknown[] }>('query($p: ID!) { leases(poolId: $p, state: ACTIVE) { id } }', { p: p.id });
    expect(leases.leases).toEqual([]);
  });
});
