import { request as httpRequest } from 'node:http';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { DocumentNode, GraphQLSchema, parse, validate, visit } from 'graphql';
import { documentShape } from '../src/common/graphql/document-shape';
import { estimateCost } from '../src/common/graphql/query-cost';
import { TestApp } from './support/app';
import { hostileCorpus, HostileRequest, KEY_CHOICES, KeyChoice } from './support/hostile-requests';
import { ApiProcess, startApi } from './support/processes';
import { ownIdFor, seedOrganization } from './support/tenant-fixtures';

/**
 * Issue 12: no request, with or without a key, can freeze, crash or bloat an API process.
 * A corpus of hostile requests, generated from the schema with fast-check from a fixed seed
 * (HOSTILE_SEED overrides it to explore), is sent to a real API process; every answer must
 * carry a code of the contract, never INTERNAL_SERVER_ERROR, a 5xx or a stack trace, and the
 * process must answer `{ me { name } }` right after each request. The limits' work on each
 * document is bounded by the document's size (their visit counts, not a time).
 */

const SEED = Number(process.env.HOSTILE_SEED ?? 20_261_207);
/** Drawn from the seed; the fragment fan-out at every n from 1 to 40 comes on top. */
const DRAWN = 300;
/** A hang guard, not a speed requirement: a request that takes this long has frozen the process. */
const HANG_GUARD_MS = 10_000;
/** The analysis may look at each node of a document a few times (depth, root fields), never once per path. */
const VISITS_PER_NODE = 3;

// The codes at the top of the API contract; INTERNAL_SERVER_ERROR is what must never be answered.
const CONTRACT_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'GRAPHQL_VALIDATION_FAILED',
  'QUERY_TOO_COMPLEX',
  'BAD_REQUEST',
  'POOL_EXHAUSTED',
  'GROUP_LIMIT_REACHED',
  'QUEUE_TIMEOUT',
  'LEASE_NOT_ACTIVE',
  'IDEMPOTENCY_CONFLICT',
  'UNAVAILABLE',
  'RATE_LIMITED',
]);

/** A stack frame, or a path into the sources or the dependencies, anywhere in an answer. */
const INTERNALS = /(\\n|\n)\s*at \S|\s{4}at \S|\/src\/|\/dist\/|node_modules|\.[jt]s:\d/;

type Answer = { kind: 'answer'; status: number; text: string } | { kind: 'timeout' } | { kind: 'failed'; message: string };

/** One HTTP request as written (node:http, so any header, method and body can be sent), guarded by a timeout. */
function send(base: URL, r: { method: string; path: string; headers: Record<string, string>; body?: Buffer }): Promise<Answer> {
  return new Promise((resolve) => {
    const headers = r.body ? { ...r.headers, 'content-length': String(r.body.length) } : r.headers;
    const req = httpRequest({ host: base.hostname, port: base.port, method: r.method, path: r.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ kind: 'answer', status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', (err) => resolve({ kind: 'failed', message: err.message }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      resolve({ kind: 'timeout' });
    }, HANG_GUARD_MS);
    req.on('error', (err) => {
      clearTimeout(timer);
      resolve({ kind: 'failed', message: err.message });
    });
    req.end(r.body);
  });
}

/** What is wrong with an answer: anything but a contract code (or data), a 5xx, internals shown. */
function findingsFor(r: HostileRequest, answer: Answer): string[] {
  if (answer.kind === 'timeout') return [`no answer within ${HANG_GUARD_MS / 1000} s`];
  if (answer.kind === 'failed') return [`no HTTP answer: ${answer.message}`];
  const findings: string[] = [];
  if (answer.status >= 500) findings.push(`HTTP ${answer.status}`);
  if (INTERNALS.test(answer.text)) findings.push('a stack trace or a source path in the answer');
  let body: { data?: unknown; errors?: { extensions?: { code?: unknown } }[] };
  try {
    body = JSON.parse(answer.text);
  } catch {
    return [...findings, `HTTP ${answer.status} with a body that is not JSON`];
  }
  const codes = (Array.isArray(body?.errors) ? body.errors : []).map((e) => e?.extensions?.code);
  if (codes.length === 0 && !body?.data) findings.push(`HTTP ${answer.status} with neither data nor errors`);
  for (const code of new Set(codes)) if (typeof code !== 'string' || !CONTRACT_CODES.has(code)) findings.push(`code ${String(code)}`);
  if (r.expectCodes && !r.expectCodes.includes(String(codes[0]))) findings.push(`expected ${r.expectCodes.join(' or ')}`);
  return findings.length > 0 ? [...findings, `(HTTP ${answer.status}: ${answer.text.slice(0, 200)})`] : [];
}

function parsed(document: string | undefined): DocumentNode | null {
  if (document === undefined) return null;
  try {
    return parse(document);
  } catch {
    // Syntax errors, and nesting too deep for the parser's stack here: the server's answer is checked instead.
    return null;
  }
}

function nodesOf(document: DocumentNode): number {
  let nodes = 0;
  visit(document, {
    enter() {
      nodes += 1;
    },
  });
  return nodes;
}

describe('hostile-request corpus', () => {
  let api: ApiProcess;
  let base: URL;
  let keys: Record<KeyChoice, string | null>;
  let schema: GraphQLSchema;
  let corpus: HostileRequest[];

  beforeAll(async () => {
    const t = await TestApp.start();
    const org = await seedOrganization(t, 'hostile');
    // The schema the application builds (the spawned API builds the same): operations added later join the corpus on their own.
    schema = t.app.get(GraphQLSchemaHost).schema;
    await t.close();
    api = await startApi({ METRICS_PORT: '0' });
    base = new URL(api.url);
    keys = { none: null, bad: `tp_${'Z'.repeat(40)}`, ADMIN: org.adminKey, CLIENT: org.clientKey, VIEWER: org.viewerKey };
    corpus = hostileCorpus(schema, { id: ownIdFor(org), text: (site) => `hostile-${site.name}` }, { seed: SEED, size: DRAWN });
    process.stdout.write(`hostile corpus: seed ${SEED} (HOSTILE_SEED=${SEED} reproduces it), ${corpus.length} requests\n`);
  }, 120_000);

  afterAll(async () => {
    await api?.stop();
  });

  it('holds at least 300 requests, sent with no key, a bad key and a key of each role', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(300);
    const byKey = Object.fromEntries(KEY_CHOICES.map((k) => [k, corpus.filter((r) => r.key === k).length]));
    expect(Object.entries(byKey).filter(([, n]) => n < 20)).toEqual([]);
    expect(corpus.filter((r) => r.label.startsWith('fragment fan-out')).length).toBeGreaterThanOrEqual(40);
  });

  it('answers every request with a contract code, never a 5xx, INTERNAL_SERVER_ERROR or a stack trace, and { me { name } } right after each', async () => {
    const findings: string[] = [];
    let sent = 0;
    for (const [i, r] of corpus.entries()) {
      const key = keys[r.key];
      const headers = key ? { ...r.headers, authorization: `Bearer ${key}` } : r.headers;
      const answer = await send(base, { ...r, headers });
      sent += 1;
      findingsFor(r, answer).forEach((f) => findings.push(`#${i} ${r.label} [${r.key}]: ${f}`));
      const me = await send(base, {
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.ADMIN}` },
        body: Buffer.from('{"query":"{ me { name } }"}'),
      });
      const alive = me.kind === 'answer' && me.status === 200 && typeof JSON.parse(me.text)?.data?.me?.name === 'string';
      if (!alive) {
        findings.push(
          `#${i} ${r.label} [${r.key}]: the process did not answer { me { name } } after it (${me.kind === 'answer' ? me.text.slice(0, 200) : me.kind})`,
        );
        break;
      }
    }
    expect(findings).toEqual([]);
    expect(sent).toBe(corpus.length);
  }, 900_000);

  it("bounds the limits' work on every document of the corpus by the document's size", () => {
    const unbounded: string[] = [];
    let measured = 0;
    for (const [i, r] of corpus.entries()) {
      const document = parsed(r.document);
      if (!document) continue;
      const nodes = nodesOf(document);
      const shape = documentShape(document);
      measured += 1;
      if (shape.visits > VISITS_PER_NODE * nodes) unbounded.push(`#${i} ${r.label}: documentShape visited ${shape.visits} selections for ${nodes} nodes`);
      // The cost estimate runs only on documents that passed validation.
      if (validate(schema, document).length > 0) continue;
      const cost = estimateCost({ schema, document, variables: {} });
      if (cost.visits > VISITS_PER_NODE * nodes) unbounded.push(`#${i} ${r.label}: estimateCost visited ${cost.visits} selections for ${nodes} nodes`);
    }
    expect(unbounded).toEqual([]);
    expect(measured).toBeGreaterThan(corpus.length / 2);
  });
});
