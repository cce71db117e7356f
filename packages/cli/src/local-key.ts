import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Hosts that are this machine: the only servers the local admin key is ever sent to. */
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The admin key `npm start` keeps for its local server, `.tokenpool/admin-key` in the clone
 * (this folder or one above it), so that `npx tokenpool status` works in a clone while
 * `npm start` runs, without exporting a key. Used only when no key was given and the server
 * is on this machine (the default URL, or localhost): the key never leaves the machine.
 */
export function localAdminKey(url: string | undefined, cwd: string): string | undefined {
  let host: string;
  try {
    host = new URL(url ?? 'http://localhost:3000').hostname;
  } catch {
    return undefined;
  }
  if (!LOCAL_HOSTS.has(host)) return undefined;
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const file = join(dir, '.tokenpool', 'admin-key');
    if (existsSync(file)) return readFileSync(file, 'utf8').trim() || undefined;
    if (dirname(dir) === dir) return undefined;
  }
}
