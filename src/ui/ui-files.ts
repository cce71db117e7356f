import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/** One file of the built dashboard, held in memory with its compressed forms. */
export interface UiFile {
  body: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  type: string;
  /** Vite's content-hashed assets (assets/name-<hash>.ext): cached for a year, never revalidated. */
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json']);

/**
 * Reads the built dashboard (dist/web, written by scripts/build.js) once at start-up: it is
 * about 150 KB, so every answer comes from memory, gzip and brotli included.
 */
export function loadUiFiles(dir: string): Map<string, UiFile> {
  const files = new Map<string, UiFile>();
  if (!existsSync(join(dir, 'index.html'))) return files;
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) {
        walk(path);
        continue;
      }
      const rel = relative(dir, path).split(sep).join('/');
      const ext = extname(name);
      const body = readFileSync(path);
      const file: UiFile = { body, type: TYPES[ext] ?? 'application/octet-stream', immutable: rel.startsWith('assets/') };
      if (COMPRESSIBLE.has(ext) && body.length > 256) {
        file.gzip = gzipSync(body, { level: 9 });
        file.br = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } });
      }
      files.set(rel, file);
    }
  };
  walk(dir);
  return files;
}

/** The Content-Security-Policy of every /ui/ answer: this origin only, no inline script or style. */
export function contentSecurityPolicy(host: string | undefined): string {
  // 'self' covers same-origin ws: and wss: in CSP Level 3 browsers (Chromium, Firefox, Safari 15.4+);
  // the host's own ws:/wss: are named too for older ones, when the Host header is a plain host[:port].
  const sockets = host && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    `connect-src 'self'${sockets}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The encoding to answer with, from Accept-Encoding (brotli first); q=0 refuses one. */
export function pickEncoding(accept: string | undefined, file: UiFile): 'br' | 'gzip' | undefined {
  if (!accept || !file.gzip) return undefined;
  const offered = new Map<string, number>();
  for (const part of accept.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    offered.set(name.trim(), q ? Number(q.slice(2)) : 1);
  }
  const ok = (name: string) => (offered.get(name) ?? offered.get('*') ?? 0) > 0;
  if (file.br && ok('br')) return 'br';
  if (ok('gzip')) return 'gzip';
  return undefined;
}
