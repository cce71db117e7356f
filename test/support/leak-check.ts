/**
 * Checks an answer given to organization A for anything of organization B. B's data is made
 * of distinctive strings (see tenant-fixtures.ts), so finding one in an answer is proof of a
 * leak, unless the request itself carried it: strings the request sent are cut out of the
 * answer before the search (an error message may quote the id it could not find).
 */

export interface ForeignData {
  /** B's names, keys, refs, models, free texts, key secrets and proofs. */
  strings: string[];
  /** B's UUID ids. (Its numeric ids come from per-table sequences every tenant shares: not distinctive, so not searched.) */
  uuids: string[];
}

/** Every string leaf of a request (its variables, its document's string literals). */
export function stringsOf(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) value.forEach((v) => stringsOf(v, into));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => stringsOf(v, into));
  return into;
}

function literalsOf(document: string): string[] {
  return [...document.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
}

/** The strings of a GraphQL request: its variables' string leaves and its document's literals. */
export function requestStrings(request: { query?: string; variables?: unknown }): string[] {
  return [...stringsOf(request.variables), ...(request.query ? literalsOf(request.query) : [])];
}

/** `answer` with every occurrence of the echoed strings that hold something of B cut out. */
function withoutEchoes(answer: string, echoed: Iterable<string>, foreign: ForeignData): string {
  const distinctive = [...foreign.strings, ...foreign.uuids];
  const cut = [...new Set(echoed)].filter((s) => s.length > 0 && distinctive.some((d) => s.includes(d)));
  cut.sort((x, y) => y.length - x.length);
  return cut.reduce((text, s) => text.split(s).join(''), answer);
}

/** What of B the answer shows that the request (or `echoed`) did not carry. */
export function foreignIn(answer: string, echoed: Iterable<string>, foreign: ForeignData): string[] {
  const text = withoutEchoes(answer, echoed, foreign);
  return [...foreign.strings, ...foreign.uuids].filter((s) => text.includes(s));
}

/** Problems with an answer given to A: a 5xx, an INTERNAL_SERVER_ERROR, or anything of B it was not sent. */
export function answerProblems(answer: { status: number; text: string }, echoed: Iterable<string>, foreign: ForeignData): string[] {
  const problems: string[] = [];
  if (answer.status >= 500) problems.push(`answered HTTP ${answer.status}`);
  if (answer.text.includes('INTERNAL_SERVER_ERROR')) problems.push('answered INTERNAL_SERVER_ERROR');
  for (const shown of foreignIn(answer.text, echoed, foreign)) problems.push(`showed ${shown}`);
  return problems;
}

/** A string of the same length and shape (each letter or digit replaced by a random one of its kind) that names nothing. */
export function lookalike(value: string): string {
  const pick = (chars: string) => chars[Math.floor(Math.random() * chars.length)];
  return value
    .replace(/[a-z]/g, () => pick('abcdefghijklmnopqrstuvwxyz'))
    .replace(/[A-Z]/g, () => pick('ABCDEFGHIJKLMNOPQRSTUVWXYZ'))
    .replace(/[0-9]/g, () => pick('0123456789'));
}

/**
 * What an answer says, without its values: the error codes and the data's shape (nulls,
 * types, list lengths). A request naming B's object must get the same outline as one naming
 * an object that exists nowhere, or the answer tells A that B's exists.
 */
export function outline(body: { data?: unknown; errors?: { extensions?: { code?: unknown } }[] }): string {
  const codes = (body.errors ?? []).map((e) => String(e.extensions?.code));
  const shape = JSON.stringify(body.data ?? null, (_key, value: unknown) => (value === null || typeof value === 'object' ? value : typeof value));
  return `${codes.join(',') || 'ok'} ${shape}`;
}
