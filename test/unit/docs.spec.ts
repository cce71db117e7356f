import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The README and docs/ are read in a clone, on GitHub and in review: every relative link
 * must reach a file of the repository (never a folder beside the clone) and, with an anchor,
 * a heading of that file. The reference tables must say what the code does.
 */
const root = join(__dirname, '..', '..');
const pages = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name)),
  // The workspaces' own READMEs (the SDK's and the command line's).
  ...readdirSync(join(root, 'packages'))
    .map((name) => join('packages', name, 'README.md'))
    .filter((path) => existsSync(join(root, path))),
];

function readText(path: string): string {
  return readFileSync(join(root, path), 'utf8');
}

/** The text outside fenced code blocks and inline code, where a link or heading is one. */
function proseLines(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').flatMap((line) => {
    if (line.startsWith('```')) {
      fenced = !fenced;
      return [];
    }
    return fenced ? [] : [line.replace(/`[^`]*`/g, (code) => code.replace(/[[\]()]/g, ' '))];
  });
}

/** Anchors as GitHub makes them: the heading's text, lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

function linksOf(markdown: string): string[] {
  return proseLines(markdown).flatMap((line) => [...line.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]));
}

/** Links of `page` that leave the repository, or name a file or heading that does not exist. */
function brokenLinks(page: string, markdown: string): string[] {
  return linksOf(markdown)
    .filter((target) => !/^[a-z]+:/i.test(target))
    .filter((target) => {
      const [path, anchor] = target.split('#');
      const file = path === '' ? join(root, page) : resolve(root, dirname(page), path);
      if (relative(root, file).startsWith('..') || !existsSync(file)) return true;
      if (anchor === undefined) return false;
      return statSync(file).isDirectory() || !anchorsOf(readFileSync(file, 'utf8')).has(anchor);
    });
}

function tableNames(markdown: string, section: string): string[] {
  const start = markdown.indexOf(`## ${section}\n`);
  const end = markdown.indexOf('\n## ', start + 1);
  const text = markdown.slice(start, end === -1 ? undefined : end);
  return [...text.matchAll(/^\| `([A-Z][A-Z_]+)` \|/gm)].map((m) => m[1]);
}

describe('documentation links', () => {
  it.each(pages)('every relative link in %s reaches a file and heading of the repository', (page) => {
    expect(brokenLinks(page, readText(page))).toEqual([]);
  });

  it('finds the README links into docs/ and into the pages', () => {
    const links = linksOf(readText('README.md'));
    expect(links).toEqual(expect.arrayContaining(['docs/api.md', 'docs/operations.md#configuration', 'schema.gql']));
  });

  it('catches a link outside the clone, a missing file and a missing heading', () => {
    const markdown = '[a](../shared/docs/domain.md) [b](docs/nothing.md) [c](docs/api.md#no-such-heading) [d](docs/api.md#errors) `[e](nowhere.md)`';
    expect(brokenLinks('README.md', markdown)).toEqual(['../shared/docs/domain.md', 'docs/nothing.md', 'docs/api.md#no-such-heading']);
  });

  it('makes anchors as GitHub does, repeated headings numbered', () => {
    const anchors = anchorsOf('# Exports: `GET /exports/ledger.csv`\n## Latest figures\n```\n# not a heading\n```\n## Latest figures\n');
    expect([...anchors]).toEqual(['exports-get-exportsledgercsv', 'latest-figures', 'latest-figures-1']);
  });
});

describe('reference tables', () => {
  it('keeps the README a one-minute read: at most 200 lines, the rest in docs/', () => {
    expect(readText('README.md').split('\n').length).toBeLessThanOrEqual(200);
  });

  it('lists in docs/operations.md every variable the configuration reader knows, and no other', () => {
    const read = [...readText('src/config/env.ts').matchAll(/r\.(?:int|bool|string|optional|url|oneOf)\('([A-Z_]+)'/g)].map((m) => m[1]);
    const documented = tableNames(readText('docs/operations.md'), 'Configuration');
    expect(read.length).toBeGreaterThan(30);
    expect([...documented].sort()).toEqual([...new Set(read)].sort());
  });

  it('lists in docs/api.md every error code the service answers, and no other', () => {
    const codes = [...readText('src/common/errors/app-error.ts').matchAll(/^\s+\| '([A-Z_]+)'/gm)].map((m) => m[1]);
    const documented = tableNames(readText('docs/api.md'), 'Errors');
    expect(codes.length).toBeGreaterThan(10);
    expect([...documented].sort()).toEqual([...codes].sort());
  });
});
