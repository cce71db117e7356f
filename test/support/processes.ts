import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as PgClient } from 'pg';

// Spawned APIs and workers hold at most this many PostgreSQL connections each: the two jest
// workers may run fault tests with several processes side by side, and PostgreSQL allows 100.
const SPAWNED_POOL_MAX = '6';

const ROOT = join(__dirname, '..', '..');

// Ports for the processes tests start come from below the kernel's ephemeral range (32768 and
// up here): a port the OS picks for `listen(0)` comes from that range, and between our check
// and the process's own listen the kernel may hand it to an outgoing connection (a test then
// failed with EADDRINUSE). Below the range only another listener can take it.
const PORT_RANGE = { from: 20_000, to: 32_000 };

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from));
    if (await canListen(port)) return port;
  }
  throw new Error(`No free port between ${PORT_RANGE.from} and ${PORT_RANGE.to}`);
}

/** Resolves once `check` holds (tried every 100 ms; a throw counts as false); throws after timeoutMs. */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** A process we started, stopped only by its own pid. */
export class Spawned {
  output = '';
  readonly exited: Promise<number | null>;

  constructor(readonly proc: ChildProcess) {
    proc.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }

  signal(signal: NodeJS.Signals): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
  }

  async stop(): Promise<void> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export class ApiProcess extends Spawned {
  constructor(
    proc: ChildProcess,
    readonly url: string,
    /** GET /metrics of this process, on its own METRICS_PORT. */
    readonly metricsUrl: string,
  ) {
    super(proc);
  }

  async gql(key: string, query: string, variables?: Record<string, unknown>, headers: Record<string, string> = {}) {
    const res = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, body: (await res.json()) as { data?: Record<string, unknown> | null; errors?: { extensions: Record<string, unknown> }[] } };
  }
}

/**
 * Starts `node dist/main.js` on free ports (public and metrics) with the run's environment
 * plus `env`; resolves once it answers. With `pauseCheckoutsMs`, the test-only entrypoint
 * checkout-pause-api.js instead: every check-out waits that long between its Redis grant and
 * its PostgreSQL record. With `delayRequests`, the test-only entrypoint request-delay-api.js:
 * a request carrying `x-test-delay-ms` is held that long before its handler runs.
 */
export async function startApi(
  env: Record<string, string> = {},
  options: { ready?: 'live' | 'ready'; pauseCheckoutsMs?: number; delayRequests?: boolean } = {},
): Promise<ApiProcess> {
  // A free port can be taken between freePort() and the API's listen (the kernel hands it to
  // an outgoing connection, or another test's process binds it): then start again on others.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startApiOnce(env, options);
    } catch (err) {
      if (attempt >= 5 || !(err as Error).message.includes('EADDRINUSE') || env.PORT !== undefined) throw err;
    }
  }
}

async function startApiOnce(
  env: Record<string, string>,
  options: { ready?: 'live' | 'ready'; pauseCheckoutsMs?: number; delayRequests?: boolean },
): Promise<ApiProcess> {
  if (options.pauseCheckoutsMs !== undefined && options.delayRequests) throw new Error('startApi: one test entrypoint at a time');
  const port = await freePort();
  const metricsPort = env.METRICS_PORT ?? String(await freePort());
  const paused = options.pauseCheckoutsMs === undefined ? {} : { TEST_CHECKOUT_PAUSE_MS: String(options.pauseCheckoutsMs) };
  const script =
    options.pauseCheckoutsMs !== undefined
      ? join(__dirname, 'checkout-pause-api.js')
      : options.delayRequests
        ? join(__dirname, 'request-delay-api.js')
        : join(ROOT, 'dist', 'main.js');
  const proc = spawn(process.execPath, [script], {
    env: { ...process.env, PORT: String(port), METRICS_PORT: metricsPort, HOST: '127.0.0.1', DATABASE_POOL_MAX: SPAWNED_POOL_MAX, ...paused, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const api = new ApiProcess(proc, `http://127.0.0.1:${port}`, `http://127.0.0.1:${metricsPort}/metrics`);
  const path = options.ready === 'live' ? '/health/live' : '/health/ready';
  // A process that dies while starting (a port taken after all) fails the wait at once.
  let ready = false;
  const died = api.exited.then((code) => {
    if (!ready) throw new Error(`API on port ${port} exited (${code}) before it was ready`);
  });
  died.catch(() => undefined);
  try {
    await Promise.race([waitFor(async () => (await fetch(`${api.url}${path}`)).ok, `API on port ${port}`), died]);
    ready = true;
  } catch (err) {
    await api.stop();
    throw new Error(`${(err as Error).message}\n${api.output}`);
  }
  return api;
}

/** A private redis-server on a free port (never the shared one), for fault tests. */
export async function startPrivateRedis(extraArgs: string[] = [], onPort?: number): Promise<{ url: string; port: number; server: Spawned }> {
  const port = onPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'tp-redis-'));
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = new Spawned(proc);
  await waitFor(async () => server.output.includes('Ready to accept connections'), `redis-server on ${port}`, 30_000);
  return { url: `redis://127.0.0.1:${port}`, port, server };
}

/** A node of a private Redis Cluster: its port, its server, and the directory of its nodes.conf. */
export interface ClusterNode {
  port: number;
  dir: string;
  server: Spawned;
}

export interface PrivateCluster {
  nodes: ClusterNode[];
  /** REDIS_CLUSTER_NODES and REDIS_URL for processes that use it. */
  env: Record<string, string>;
  /** Kills node `index` (SIGKILL) and starts it again on its port, empty, with its nodes.conf: it rejoins with its slots. */
  restartEmpty(index: number): Promise<void>;
  stop(): Promise<void>;
}

/** A CA and a server certificate for 127.0.0.1 (by IP), made with openssl in `dir`, for TLS tests. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const files = {
    ca: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'server.crt'),
    key: join(dir, 'server.key'),
    csr: join(dir, 'server.csr'),
  };
  const ext = join(dir, 'san.ext');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1\n');
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', files.caKey, '-out', files.ca, '-days', '1', '-subj', '/CN=tokenpool-test-ca']);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', files.key, '-out', files.csr, '-subj', '/CN=127.0.0.1']);
  openssl(['x509', '-req', '-in', files.csr, '-CA', files.ca, '-CAkey', files.caKey, '-CAcreateserial', '-out', files.cert, '-days', '1', '-extfile', ext]);
  return { ca: files.ca, cert: files.cert, key: files.key };
}

type Certificates = ReturnType<typeof makeCertificates>;

function spawnClusterNode(port: number, dir: string, tls?: Certificates): Spawned {
  const args = [
    ...(tls ? ['--port', '0', '--tls-port', String(port)] : ['--port', String(port)]),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ];
  const cluster = ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '5000'];
  const secure = tls
    ? ['--tls-cluster', 'yes', '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no']
    : [];
  return new Spawned(spawn('redis-server', [...args, ...cluster, ...secure], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

function redisCli(args: string[], tls?: Certificates): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const proc = spawn('redis-cli', [...(tls ? ['--tls', '--cacert', tls.ca] : []), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    proc.once('exit', (code) => resolve({ code, output }));
  });
}

/** Every node answers cluster_state:ok (slots all served, the node reachable). */
async function clusterOk(nodes: ClusterNode[], tls?: Certificates): Promise<boolean> {
  const states = await Promise.all(nodes.map((n) => redisCli(['-p', String(n.port), 'cluster', 'info'], tls)));
  return states.every((s) => s.output.includes('cluster_state:ok'));
}

/**
 * A private Redis Cluster of `size` primaries on free loopback ports, no persistence,
 * created with redis-cli --cluster create; resolves once every node reports it ok. With
 * `tls`, the nodes speak only TLS (clients and cluster bus) with a certificate of a CA made
 * for the run: `env` then has a rediss:// REDIS_URL and NODE_EXTRA_CA_CERTS naming that CA.
 */
export async function startPrivateCluster(size = 3, options: { tls?: boolean } = {}): Promise<PrivateCluster> {
  const tls = options.tls ? makeCertificates(mkdtempSync(join(tmpdir(), 'tp-certs-'))) : undefined;
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < size; i++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tp-cluster-'));
    nodes.push({ port, dir, server: spawnClusterNode(port, dir, tls) });
  }
  const stop = async () => void (await Promise.all(nodes.map((n) => n.server.stop())));
  try {
    for (const n of nodes) await waitFor(async () => n.server.output.includes('Ready to accept connections'), `cluster node on ${n.port}`, 30_000);
    const created = await redisCli(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], tls);
    if (created.code !== 0) throw new Error(`redis-cli --cluster create failed: ${created.output}`);
    await waitFor(() => clusterOk(nodes, tls), 'cluster_state:ok', 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes,
    env: {
      REDIS_CLUSTER_NODES: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
      REDIS_URL: `${tls ? 'rediss' : 'redis'}://127.0.0.1:${nodes[0].port}`,
      ...(tls ? { NODE_EXTRA_CA_CERTS: tls.ca } : {}),
    },
    async restartEmpty(index) {
      const node = nodes[index];
      node.server.signal('SIGKILL');
      await node.server.exited;
      node.server = spawnClusterNode(node.port, node.dir, tls);
      await waitFor(async () => node.server.output.includes('Ready to accept connections'), `cluster node on ${node.port}`, 30_000);
      await waitFor(() => clusterOk(nodes, tls), 'cluster_state:ok after the restart', 30_000);
    },
    stop,
  };
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A TCP forwarder to 127.0.0.1:targetPort on a port of its own, for fault tests against a
 * shared service that must not be stopped: cut() refuses new connections and drops the open
 * ones, as an unreachable server would look; restore() forwards again on the same port.
 */
export async function startTcpProxy(targetPort: number): Promise<{ port: number; cut(): Promise<void>; restore(): Promise<void> }> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  await listen();
  return {
    port,
    cut: async () => {
      const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      server = null;
    },
    restore: listen,
  };
}

/**
 * Starts `node dist/worker.js` with the run's environment plus `env`, its health routes on
 * a free port; resolves once it is live (its schedules are registered by then).
 */
export async function startWorker(env: Record<string, string> = {}): Promise<Spawned> {
  const port = await freePort();
  const worker = new Spawned(
    spawn(process.execPath, [join(ROOT, 'dist', 'worker.js')], {
      env: { ...process.env, WORKER_PORT: String(port), HOST: '127.0.0.1', DATABASE_POOL_MAX: SPAWNED_POOL_MAX, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  try {
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health/live`)).ok, `worker on port ${port}`);
  } catch (err) {
    await worker.stop();
    throw new Error(`${(err as Error).message}\n${worker.output}`);
  }
  return worker;
}

export interface World {
  /** DATABASE_URL and REDIS_URL (and REDIS_CLUSTER_NODES on a cluster) of the world, for its processes. */
  env: Record<string, string>;
  databaseUrl: string;
  /** The world's one Redis; on a cluster, its first node (see `cluster`). */
  redis: { url: string; port: number; server: Spawned };
  cluster?: PrivateCluster;
  /** The admin key of the world's one organization. */
  adminKey: string;
  /** Drops the database (even with connections left) and stops the Redis. */
  close(): Promise<void>;
}

let worlds = 0;

/**
 * A database and a Redis of their own, for tests that run a worker process. A worker sweeps
 * every pool of its database against its Redis: beside the run's shared database, a worker
 * on a private Redis would find the pools of tests running in parallel missing there and
 * rebuild them (raising their epochs). The database is created and migrated, with one
 * organization, by the real CLI.
 */
export async function startWorld(options: { cluster?: boolean; tls?: boolean } = {}): Promise<World> {
  const cluster = options.cluster ? await startPrivateCluster(3, { tls: options.tls }) : undefined;
  const redis = cluster ? { url: cluster.env.REDIS_URL, port: cluster.nodes[0].port, server: cluster.nodes[0].server } : await startPrivateRedis();
  const stopRedis = () => (cluster ? cluster.stop() : redis.server.stop());
  const url = new URL(process.env.DATABASE_URL!);
  const database = `${process.env.TP_TEST_DATABASE}_w${process.pid}_${++worlds}`;
  url.pathname = `/${database}`;
  const env = { DATABASE_URL: url.toString(), REDIS_URL: redis.url, ...cluster?.env };
  const drop = async () => {
    const admin = new PgClient({ connectionString: process.env.TP_TEST_ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.end();
  };
  const created = await runCli(['org', 'create', `world-${worlds}`], { ...env, DATABASE_CREATE: 'true' });
  if (created.code !== 0) {
    await Promise.all([drop(), stopRedis()]);
    throw new Error(`org create failed: ${created.stderr}`);
  }
  const { adminKey } = JSON.parse(created.stdout) as { adminKey: string };
  return { env, databaseUrl: url.toString(), redis, cluster, adminKey, close: async () => void (await Promise.all([drop(), stopRedis()])) };
}
