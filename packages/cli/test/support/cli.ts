import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCli as runServerCli, startApi, type ApiProcess } from '../../../../test/support/processes';

/** The CLI exactly as users run it: the bin script over the compiled dist/. */
export const BIN = join(__dirname, '..', '..', 'bin', 'tokenpool.js');

/**
 * The e2e tier runs after the root build, which compiles the CLI; a lone `npx jest <this file>`
 * on a checkout that never built the packages builds them here (the SDK first, as the CLI's
 * compile resolves it through its dist/), and only then.
 */
export function ensureBuilt(): void {
  const root = join(__dirname, '..', '..', '..', '..');
  for (const name of ['client', 'cli']) {
    const entry = join(root, 'packages', name, 'dist', name === 'client' ? 'index.js' : 'main.js');
    if (!existsSync(entry)) execFileSync(process.execPath, [join(root, 'scripts', 'build-package.js'), name], { cwd: root, stdio: 'inherit' });
  }
}

/** A running CLI: its output so far and its exit code to come. */
export interface CliRun {
  proc: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

/** An API process and an organization with its ADMIN key, for one spec file. */
export interface CliWorld {
  api: ApiProcess;
  adminKey: string;
  /** A GraphQL call through the API, throwing on errors (set-up and checks, not the code under test). */
  gql<T>(query: string, variables?: Record<string, unknown>, key?: string): Promise<T>;
  /** Starts `tokenpool <args>` against this API with the ADMIN key (env overrides). */
  start(args: string[], env?: Record<string, string>): CliRun;
  /** Runs `tokenpool <args>` to its end. */
  run(args: string[], env?: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** SIGKILLs every CLI still running (afterEach), then stops the API (afterAll). */
  killAll(): void;
  close(): Promise<void>;
}

export async function startWorld(label: string): Promise<CliWorld> {
  ensureBuilt();
  const api = await startApi();
  const created = await runServerCli(['org', 'create', `${label}-${randomUUID()}`]);
  if (created.code !== 0) {
    await api.stop();
    throw new Error(created.stderr);
  }
  const { adminKey } = JSON.parse(created.stdout) as { adminKey: string };
  const running: CliRun[] = [];
  const start = (args: string[], env: Record<string, string> = {}): CliRun => {
    const proc = spawn(process.execPath, [BIN, ...args], {
      // Outside the clone: a developer's .tokenpool/admin-key (npm start) must not stand in for a key a test leaves out.
      cwd: tmpdir(),
      env: { ...process.env, TOKENPOOL_URL: api.url, TOKENPOOL_API_KEY: adminKey, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: CliRun = { proc, stdout: '', stderr: '', exited: new Promise((resolve) => proc.once('close', (code) => resolve(code))) };
    proc.stdout?.on('data', (d: Buffer) => (run.stdout += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (run.stderr += d.toString()));
    running.push(run);
    return run;
  };
  const killAll = () => {
    for (const run of running.splice(0)) if (run.proc.exitCode === null && run.proc.signalCode === null) run.proc.kill('SIGKILL');
  };
  return {
    api,
    adminKey,
    async gql<T>(query: string, variables?: Record<string, unknown>, key = adminKey): Promise<T> {
      const res = await api.gql(key, query, variables);
      if (!res.body.data) throw new Error(JSON.stringify(res.body.errors));
      return res.body.data as T;
    },
    start,
    async run(args, env) {
      const run = start(args, env);
      const code = await run.exited;
      return { code, stdout: run.stdout, stderr: run.stderr };
    },
    killAll,
    async close() {
      killAll();
      await api.stop();
    },
  };
}
