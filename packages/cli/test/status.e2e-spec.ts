import { randomUUID } from 'node:crypto';
import { waitFor } from '../../../test/support/processes';
import type { StatusDocument } from '../src/commands/status';
import { startWorld, type CliWorld } from './support/cli';

/**
 * `tokenpool status`, `leases`, `revoke`, the admin helpers and the exit codes for keys and
 * usage, against a real API process with the built CLI as a child process.
 */

describe('tokenpool status, leases, admin helpers and exit codes', () => {
  let world: CliWorld;
  let adminKey: string;
  let adminName: string;
  let clientKey: string;

  const gql = <T>(key: string, query: string, variables?: Record<string, unknown>) => world.gql<T>(query, variables, key);
  const cli = (args: string[], env: Record<string, string> = {}) => world.run(args, env);

  beforeAll(async () => {
    world = await startWorld('cli-status');
    adminKey = world.adminKey;
    adminName = (await gql<{ me: { name: string } }>(adminKey, '{ me { name } }')).me.name;
    const { createPrincipal } = await gql<{ createPrincipal: { id: string } }>(
      adminKey,
      'mutation($i: CreatePrincipalInput!) { createPrincipal(input: $i) { id } }',
      { i: { name: `cli-client-${randomUUID().slice(0, 8)}`, kind: 'USER', orgUnitKind: 'GOING_CONCERN' } },
    );
    const { createApiKey } = await gql<{ createApiKey: { secret: string } }>(
      adminKey,
      'mutation($p: ID!) { createApiKey(principalId: $p, role: CLIENT) { secret } }',
      {
        p: createPrincipal.id,
      },
    );
    clientKey = createApiKey.secret;
  });

  afterEach(() => world.killAll());

  afterAll(async () => {
    await world?.close();
  });

  it('creates a pool and an app, and shows a lease’s holder and host in the table and in --json', async () => {
    const poolName = `cli-status-${randomUUID().slice(0, 8)}`;
    const appKey = `hypermesh-${randomUUID().slice(0, 8)}`;
    const pools = await cli(['pools', 'create', poolName, '--cap', '12', '--json']);
    expect(pools.code).toBe(0);
    const pool = JSON.parse(pools.stdout) as { id: string; name: string; cap: number };
    expect(pool).toMatchObject({ name: poolName, cap: 12 });
    const apps = await cli(['apps', 'create', '--pool', poolName, '--key', appKey, '--name', 'HyperMesh', '--cost', '5']);
    expect(apps.code).toBe(0);
    expect(apps.stdout).toContain(`Created app ${appKey} (HyperMesh) in pool ${poolName}: cost 5`);

    const { checkout } = await gql<{ checkout: { id: string } }>(adminKey, 'mutation($i: CheckoutInput!) { checkout(input: $i) { id } }', {
      i: { poolId: pool.id, app: appKey, host: 'ws-17', leaseSeconds: 120 },
    });

    const table = await cli(['status', '--pool', poolName]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(`Pool ${poolName}: cap 12, in use 5, available 7, queue 0, 1 active lease`);
    expect(table.stdout).toContain(`${appKey} (HyperMesh): cost 5, 1 lease`);
    const row = table.stdout.split('\n').find((line) => line.includes(checkout.id));
    expect(row).toBeDefined();
    expect(row).toContain(adminName);
    expect(row).toContain('ws-17');
    expect(row).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+s ago\)/);
    expect(row).toMatch(/in (1m\d\ds|\d+s)/);

    const json = await cli(['status', '--pool', pool.id, '--json']);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as StatusDocument;
    expect(doc.pools).toHaveLength(1);
    expect(doc.pools[0]).toMatchObject({ id: pool.id, name: poolName, cap: 12, inUse: 5, available: 7, queueLength: 0, activeLeases: 1 });
    expect(doc.pools[0].apps).toEqual([
      {
        key: appKey,
        name: 'HyperMesh',
        cost: 5,
        leases: [{ id: checkout.id, holder: adminName, host: 'ws-17', credits: 5, acquiredAt: expect.any(String), expiresAt: expect.any(String) }],
      },
    ]);
    const lease = doc.pools[0].apps[0].leases[0];
    expect(Math.abs(Date.parse(lease.expiresAt) - Date.parse(lease.acquiredAt) - 120_000)).toBeLessThan(1_000);

    const leases = await cli(['leases', '--pool', poolName, '--json']);
    expect(leases.code).toBe(0);
    expect(JSON.parse(leases.stdout)).toEqual([expect.objectContaining({ id: checkout.id, app: appKey, holder: adminName, host: 'ws-17', credits: 5 })]);

    // A CLIENT may not revoke (77); the ADMIN may, and the lease leaves the listing.
    const forbidden = await cli(['revoke', checkout.id], { TOKENPOOL_API_KEY: clientKey });
    expect(forbidden.code).toBe(77);
    expect(forbidden.stderr).toContain('FORBIDDEN');
    const revoked = await cli(['revoke', checkout.id, '--reason', 'e2e']);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toBe(`Lease ${checkout.id}: REVOKED\n`);
    expect((await cli(['leases', '--pool', poolName])).stdout).toBe('No active leases.\n');
  });

  it('--watch prints the pool again when a lease is checked out, and exits 0 on Ctrl+C', async () => {
    const poolName = `cli-watch-${randomUUID().slice(0, 8)}`;
    const appKey = `abaqus-${randomUUID().slice(0, 8)}`;
    const pool = JSON.parse((await cli(['pools', 'create', poolName, '--cap', '9', '--json'])).stdout) as { id: string };
    expect((await cli(['apps', 'create', '--pool', pool.id, '--key', appKey, '--name', 'Abaqus', '--cost', '4'])).code).toBe(0);
    const watch = world.start(['status', '--watch', '--json', '--pool', poolName]);
    const snapshots = () =>
      watch.stdout
        .split('\n')
        .slice(0, -1) // complete lines only: the last may be half written
        .map((line) => JSON.parse(line) as StatusDocument);
    await waitFor(async () => snapshots().length >= 1, 'the first snapshot', 30_000);
    expect(snapshots()[0].pools[0]).toMatchObject({ name: poolName, inUse: 0, activeLeases: 0 });
    // Give the subscription's socket time to open, then change the pool: the new snapshot must
    // come from the subscription, well before the 15 s re-read.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await gql(adminKey, 'mutation($i: CheckoutInput!) { checkout(input: $i) { id } }', { i: { poolId: pool.id, app: appKey, host: 'ws-watch' } });
    await waitFor(async () => snapshots().some((s) => s.pools[0].activeLeases === 1), 'a snapshot with the new lease', 30_000);
    const seen = snapshots().find((s) => s.pools[0].activeLeases === 1);
    expect(seen?.pools[0]).toMatchObject({ inUse: 4, available: 5 });
    expect(seen?.pools[0].apps[0].leases[0]).toMatchObject({ holder: adminName, host: 'ws-watch' });
    watch.proc.kill('SIGINT');
    expect(await watch.exited).toBe(0);
  });

  it('exits 77 for a bad key without printing it, and 1 for usage errors that name the problem', async () => {
    const badKey = `tp_${'0'.repeat(64)}`;
    const bad = await cli(['status'], { TOKENPOOL_API_KEY: badKey });
    expect(bad.code).toBe(77);
    expect(bad.stderr).toContain('UNAUTHENTICATED');
    expect(bad.stdout + bad.stderr).not.toContain(badKey);
    const flagged = await cli(['--api-key', badKey, 'leases']);
    expect(flagged.code).toBe(77);
    expect(flagged.stdout + flagged.stderr).not.toContain(badKey);

    const unknownOption = await cli(['status', '--bogus']);
    expect(unknownOption.code).toBe(1);
    expect(unknownOption.stderr).toContain('unknown option --bogus');
    const noCommand = await cli(['run', '--pool', 'x', '--app', 'y']);
    expect(noCommand.code).toBe(1);
    expect(noCommand.stderr).toContain('missing the command to run');
    const badNumber = await cli(['run', '--pool', 'x', '--app', 'y', '--wait', 'soon', '--', 'true']);
    expect(badNumber.code).toBe(1);
    expect(badNumber.stderr).toContain('--wait must be a whole number');
    const unknownPool = await cli(['status', '--pool', `nope-${randomUUID()}`]);
    expect(unknownPool.code).toBe(1);
    expect(unknownPool.stderr).toMatch(/unknown pool "nope-[^"]+"; known pools: /);
    const unknownCommand = await cli(['frobnicate']);
    expect(unknownCommand.code).toBe(1);
    expect(unknownCommand.stderr).toContain('unknown command "frobnicate"');
    const mcp = await cli(['mcp', '--help']);
    expect(mcp.code).toBe(0);
    expect(mcp.stdout).toContain('Model Context Protocol');
    const help = await cli(['run', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('TOKENPOOL_LEASE_PROOF_FILE');
  });
});
