import { randomUUID } from 'node:crypto';
import { AddressInfo } from 'node:net';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { GraphQLSchema } from 'graphql';
import { Client as WsClient, createClient } from 'graphql-ws';
import request from 'supertest';
import { DataSource } from 'typeorm';
import WebSocket from 'ws';
import { TestApp } from './support/app';
import { answerProblems, ForeignData, lookalike, outline, requestStrings } from './support/leak-check';
import { ArgumentSite, foreignIdValues, RootType, walkOperations, WalkOperation, WalkValues } from './support/schema-walk';
import { ownIdFor, SeededOrganization, seedOrganization } from './support/tenant-fixtures';

/**
 * Promise 5, strictly: nothing of one organization is visible to, or changeable by, another.
 * Walks every query, mutation and subscription of the schema as organization A's ADMIN,
 * CLIENT and VIEWER keys, over organization B's ids and over B's names, app keys, external
 * refs and model names, and fails on any of B's strings or ids in an answer that the request
 * did not itself carry, on any INTERNAL_SERVER_ERROR or 5xx, on an answer that differs from
 * the one for an object that exists nowhere (which tells A that B's exists), and on any
 * change to B's rows. The REST routes are walked the same way.
 */

type Role = 'ADMIN' | 'CLIENT' | 'VIEWER';
const ROLES: Role[] = ['ADMIN', 'CLIENT', 'VIEWER'];
/** Requests in flight at once: enough to overlap the database round trips, few enough for a 2-core machine. */
const PARALLEL = 4;
/** Ids walked per table: every kind of B's objects, without walking each of its hundred audit entries. */
const IDS_PER_TABLE = 4;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Walked {
  role: Role;
  op: WalkOperation;
  value: string;
  status: number;
  text: string;
  body: { data?: unknown; errors?: { extensions?: { code?: unknown } }[] };
}

async function inBatches<T, R>(items: T[], run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += PARALLEL) results.push(...(await Promise.all(items.slice(i, i + PARALLEL).map(run))));
  return results;
}

describe('organization isolation, walked over the whole schema', () => {
  let t: TestApp;
  let dataSource: DataSource;
  let schema: GraphQLSchema;
  let baseUrl: string;
  let a: SeededOrganization;
  let b: SeededOrganization;
  let foreign: ForeignData;
  /** B's numeric ids: walked as arguments, not searched for in answers (see ForeignData). */
  let numericIds: string[];
  /** B's ids and distinctive strings, as the values the walk puts in arguments. */
  let foreignValues: string[];

  beforeAll(async () => {
    t = await TestApp.start();
    await t.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    dataSource = t.app.get(DataSource);
    schema = t.app.get(GraphQLSchemaHost).schema;
    a = await seedOrganization(t, 'aown');
    b = await seedOrganization(t, 'bsecret');
    ({ foreign, numericIds } = await foreignDataOf(b));
    foreignValues = [...foreign.uuids, ...numericIds, ...foreign.strings];
  }, 120_000);

  afterAll(async () => {
    await t.close();
  });

  function keyOf(role: Role): string {
    return role === 'ADMIN' ? a.adminKey : role === 'CLIENT' ? a.clientKey : a.viewerKey;
  }

  /** Every table with an organization_id column: found from the database, not a hand-kept list. */
  async function tenantTables(): Promise<string[]> {
    const rows: { table_name: string }[] = await dataSource.query(
      `SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'organization_id' ORDER BY table_name`,
    );
    return rows.map((r) => r.table_name);
  }

  async function snapshot(organizationId: string): Promise<Record<string, string>> {
    const result: Record<string, string> = {};
    for (const table of await tenantTables()) {
      const rows = await dataSource.query(`SELECT * FROM "${table}" WHERE organization_id = $1 ORDER BY 1`, [organizationId]);
      result[table] = JSON.stringify(rows);
    }
    return result;
  }

  /** B's ids (a few of each table's), its marked strings found anywhere in its rows, its key secrets and its proof. */
  async function foreignDataOf(org: SeededOrganization): Promise<{ foreign: ForeignData; numericIds: string[] }> {
    const uuids = new Set<string>([org.organizationId]);
    const numericIds = new Set<string>();
    for (const table of await tenantTables()) {
      const id: { data_type: string }[] = await dataSource.query(
        `SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND column_name = 'id'`,
        [table],
      );
      if (id.length === 0) continue;
      const rows: { id: string }[] = await dataSource.query(
        `SELECT id::text AS id FROM "${table}" WHERE organization_id = $1 ORDER BY 1 LIMIT ${IDS_PER_TABLE}`,
        [org.organizationId],
      );
      for (const row of rows) (UUID.test(row.id) ? uuids : numericIds).add(row.id);
    }
    const everything = JSON.stringify(await snapshot(org.organizationId));
    const strings = new Set<string>(everything.match(/bsecret[a-z]+[0-9a-f]{32}/g) ?? []);
    org.secrets.forEach((s) => strings.add(s));
    if (org.proof) strings.add(org.proof);
    return { foreign: { strings: [...strings], uuids: [...uuids] }, numericIds: [...numericIds] };
  }

  /** A's own objects by the argument that names them: ids that exist, so the walk gets past them to the strings. */
  function ownIds(site: ArgumentSite): string {
    return ownIdFor(a)(site);
  }

  /** A's own ids, and `text` in every String argument but the page cursors (which take ids: walked with B's ids). */
  function textValues(text: string): WalkValues {
    return { id: ownIds, text: (site) => (site.name === 'after' ? undefined : text) };
  }

  async function send(role: Role, op: WalkOperation, value: string): Promise<Walked> {
    const res = await request(t.server)
      .post('/graphql')
      .set('content-type', 'application/json')
      .set('authorization', `Bearer ${keyOf(role)}`)
      .send({ query: op.query, variables: op.variables });
    return { role, op, value, status: res.status, text: res.text, body: res.body ?? {} };
  }

  function problemsOf(walked: Walked, alsoEchoed: Iterable<string> = []): string[] {
    const echoed = [...requestStrings({ query: walked.op.query, variables: walked.op.variables }), ...alsoEchoed];
    return answerProblems(walked, echoed, foreign).map((p) => `${walked.role} ${walked.op.field}(${walked.value}) ${p}: ${walked.text.slice(0, 300)}`);
  }

  /** The walk's operations of the given root types, filled by `values` (with the selection two object levels deep). */
  function operations(values: WalkValues, rootTypes: RootType[]): WalkOperation[] {
    return walkOperations(schema, values, { depth: 2 }).filter((op) => rootTypes.includes(op.rootType));
  }

  /**
   * Walks B's ids and strings as every role. With `compare`, each answer is also compared
   * with the one for a value that names nothing (B's numeric ids aside: they come from
   * sequences every tenant shares, and a page after one of them is a page of A's rows).
   */
  async function walkForeign(rootTypes: RootType[], options: { compare: boolean; echoed?: Set<string> }): Promise<{ problems: string[]; walked: Walked[] }> {
    const cases: { role: Role; op: WalkOperation; value: string; nowhere?: WalkOperation }[] = [];
    for (const role of ROLES) {
      for (const value of foreignValues) {
        const isId = !foreign.strings.includes(value);
        // Ids go where ids go; strings go in every String argument, with A's own ids beside them.
        const ops = operations(isId ? foreignIdValues(value) : textValues(value), rootTypes);
        const nowhereValue = !options.compare || numericIds.includes(value) ? null : isId ? randomUUID() : lookalike(value);
        const nowhere = nowhereValue === null ? [] : operations(isId ? foreignIdValues(nowhereValue) : textValues(nowhereValue), rootTypes);
        ops.forEach((op, i) => {
          if (isId ? op.takesIds : op.takesText) cases.push({ role, op, value, nowhere: nowhere[i] });
        });
      }
    }
    const problems: string[] = [];
    const walked = await inBatches(cases, async ({ role, op, value, nowhere }) => {
      // What A sends in a mutation can come back in A's own answers later (a pool A renamed
      // after one of B's strings): it counts as echoed from then on.
      if (options.echoed && op.rootType === 'Mutation') requestStrings({ variables: op.variables }).forEach((s) => options.echoed!.add(s));
      const answer = await send(role, op, value);
      problems.push(...problemsOf(answer, options.echoed));
      if (nowhere) {
        const reference = await send(role, nowhere, 'nowhere');
        if (outline(answer.body) !== outline(reference.body))
          problems.push(`${role} ${op.field}(${value}) answered ${outline(answer.body)} but for a value naming nothing ${outline(reference.body)}`);
      }
      return answer;
    });
    return { problems, walked };
  }

  it("finds rows of organization B in every tenant table, and B's distinctive strings in them", async () => {
    const tables = await tenantTables();
    expect(tables).toEqual(
      expect.arrayContaining([
        'principals',
        'api_keys',
        'audit_log',
        'pools',
        'apps',
        'leases',
        'denials',
        'group_limits',
        'lease_draws',
        'pool_usage_rollups',
        'app_usage_rollups',
        'usage_principal_days',
        'usage_rollup_cursors',
        'history_imports',
        'work_units',
        'work_unit_outcomes',
        'work_unit_totals',
        'model_prices',
        'ledger_entries',
        'ledger_event_keys',
        'compute_budgets',
        'compute_reservations',
        'compute_budget_states',
      ]),
    );
    const empty = [];
    for (const table of [
      'principals',
      'api_keys',
      'audit_log',
      'pools',
      'apps',
      'leases',
      'denials',
      'group_limits',
      'lease_draws',
      'work_units',
      'work_unit_outcomes',
      'model_prices',
      'ledger_entries',
      'compute_budgets',
      'compute_reservations',
      'compute_budget_states',
    ]) {
      const [{ n }] = await dataSource.query(`SELECT count(*)::int AS n FROM "${table}" WHERE organization_id = $1`, [b.organizationId]);
      if (n === 0) empty.push(table);
    }
    expect(empty).toEqual([]);
    // Organization, 4 principals, 2 teams, pool, app key, name and vendor, ref, process, owner, task, host, reason, ...
    expect(foreign.strings.length).toBeGreaterThanOrEqual(20);
    expect(foreign.uuids.length).toBeGreaterThanOrEqual(10);
  });

  it('finds what the check is for: a string of B in an answer, but not one the request carried', () => {
    const [name] = foreign.strings;
    const [id] = foreign.uuids;
    expect(answerProblems({ status: 200, text: `{"data":{"pool":{"name":"${name}"}}}` }, [], foreign)).toEqual([`showed ${name}`]);
    expect(answerProblems({ status: 200, text: `{"errors":[{"message":"No pool with id ${id}"}]}` }, [id], foreign)).toEqual([]);
    expect(answerProblems({ status: 200, text: `{"data":{"lease":{"id":"${id}","pool":{"name":"${name}"}}}}` }, [id], foreign)).toEqual([`showed ${name}`]);
    expect(answerProblems({ status: 500, text: '{"errors":[{"extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}' }, [], foreign)).toEqual([
      'answered HTTP 500',
      'answered INTERNAL_SERVER_ERROR',
    ]);
    expect(outline({ data: { pool: null } })).not.toEqual(outline({ data: { pool: { id } } }));
  });

  it("runs every query of the walk on organization A's own objects without an error, so the walk reaches the resolvers", async () => {
    // The control for the walks below: with A's own ids and app key, every query answers.
    const values: WalkValues = { id: ownIds, text: (site) => (site.name === 'proof' ? (a.proof ?? a.appKey) : site.name === 'after' ? undefined : a.appKey) };
    const failed: string[] = [];
    for (const op of operations(values, ['Query'])) {
      const walked = await send('ADMIN', op, 'own');
      if (walked.body.errors) failed.push(`${op.field}: ${walked.text.slice(0, 300)}`);
    }
    expect(failed).toEqual([]);
  });

  it("shows A's ADMIN, CLIENT and VIEWER nothing of B through any query over B's ids, names, app keys, refs and models", async () => {
    const { problems, walked } = await walkForeign(['Query'], { compare: true });
    expect(problems).toEqual([]);
    expect(walked.length).toBeGreaterThan(foreignValues.length * ROLES.length);
  }, 600_000);

  it("delivers no event of B to subscriptions of A over B's ids and names while B's pool changes", async () => {
    const wsUrl = `${baseUrl.replace('http', 'ws')}/graphql`;
    const clients: WsClient[] = [];
    const connect = (key: string) => {
      const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${key}` }, retryAttempts: 0, lazy: true });
      clients.push(client);
      return client;
    };
    interface Watch {
      label: string;
      events: unknown[];
      errors: string[];
      settled: boolean;
      op: WalkOperation;
    }
    const watch = (client: WsClient, label: string, op: WalkOperation): Watch => {
      const w: Watch = { label, events: [], errors: [], settled: false, op };
      client.subscribe(
        { query: op.query, variables: op.variables },
        {
          next: (value) => {
            if (value.errors) w.errors.push(JSON.stringify(value.errors));
            if (value.data) w.events.push(value.data);
          },
          error: (err) => {
            w.errors.push(
              Array.isArray(err)
                ? JSON.stringify(err)
                : JSON.stringify({ code: (err as { code?: unknown }).code, reason: (err as { reason?: unknown }).reason, message: (err as Error).message }),
            );
            w.settled = true;
          },
          complete: () => (w.settled = true),
        },
      );
      return w;
    };
    try {
      const watches: Watch[] = [];
      for (const role of ROLES) {
        const cases = foreignValues.flatMap((value) => operations(foreignIdValues(value), ['Subscription']).map((op) => ({ value, op })));
        // Ten a socket: well under the per-socket subscription limit.
        for (let i = 0; i < cases.length; i += 10) {
          const client = connect(keyOf(role));
          for (const { value, op } of cases.slice(i, i + 10)) watches.push(watch(client, `${role} ${op.field}(${value})`, op));
        }
      }
      const control = watch(
        connect(a.adminKey),
        'control',
        operations(textValues(a.appKey), ['Subscription']).find((op) => op.field === 'poolChanged')!,
      );
      // Give every subscription its answer (a refusal settles it) before B's pool changes.
      for (let i = 0; i < 200 && watches.some((w) => !w.settled); i++) await new Promise((r) => setTimeout(r, 100));
      for (const cap of [11, 12]) {
        const changed = await t.gql(b.adminKey, 'mutation($id: ID!, $cap: Int!) { updatePool(id: $id, input: { cap: $cap }) { cap } }', { id: b.poolId, cap });
        expect(changed.errors).toBeUndefined();
      }
      const held = await t.gql<{ checkout: { id: string } }>(b.adminKey, 'mutation($input: CheckoutInput!) { checkout(input: $input) { id } }', {
        input: { poolId: b.poolId, app: b.appKey },
      });
      if (held.data) await t.gql(b.adminKey, 'mutation($id: ID!) { checkin(leaseId: $id) { id } }', { id: held.data.checkout.id });
      // B's changes are relayed in order before A's: once A's own subscriber has A's event, B's were delivered if they were going to be.
      await t.gql(a.adminKey, 'mutation($id: ID!) { updatePool(id: $id, input: { cap: 13 }) { cap } }', { id: a.poolId });
      for (let i = 0; i < 100 && control.events.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect({ events: control.events.length > 0, errors: control.errors }).toEqual({ events: true, errors: [] });

      const problems: string[] = [];
      for (const w of watches) {
        // A subscription that names nothing (poolsChanged) hears A's own changes; none may show anything of B.
        const namesNothing = Object.keys(w.op.variables ?? {}).length === 0;
        if (namesNothing) {
          const heard = JSON.stringify(w.events);
          answerProblems({ status: 200, text: heard }, [], foreign).forEach((p) => problems.push(`${w.label} ${p}: ${heard.slice(0, 300)}`));
        } else if (w.events.length > 0) problems.push(`${w.label} received ${JSON.stringify(w.events).slice(0, 300)}`);
        const text = w.errors.join('\n');
        const shown = answerProblems({ status: 200, text }, requestStrings({ variables: w.op.variables }), foreign);
        shown.forEach((p) => problems.push(`${w.label} ${p}: ${text.slice(0, 300)}`));
      }
      expect(problems).toEqual([]);
      expect(watches.length).toBeGreaterThanOrEqual(foreignValues.length * ROLES.length);
    } finally {
      await Promise.all(clients.map((c) => c.dispose()));
    }
  }, 120_000);

  it("shows nothing of B through the REST routes, with B's ids and names in their parameters", async () => {
    const routes = t.app
      .getHttpAdapter()
      .getInstance()
      .printRoutes({ commonPrefix: false })
      .split('\n')
      .map((line) => /(\/\S*) \(([^)]*)\)/.exec(line))
      // /mcp is JSON-RPC in sessions, not a REST read: test/mcp-isolation.e2e-spec.ts walks its tools and resources.
      .filter((m): m is RegExpExecArray => m !== null && m[2].split(', ').includes('GET') && m[1] !== '/graphql' && m[1] !== '/mcp')
      .map((m) => m[1]);
    expect(routes).toEqual(expect.arrayContaining(['/exports/ledger.csv', '/exports/focus.csv']));
    const now = Date.now();
    const params = new URLSearchParams({
      from: new Date(now - 30 * 86_400_000).toISOString(),
      to: new Date(now + 86_400_000).toISOString(),
      poolId: b.poolId,
      workUnitId: b.workUnitId,
      leaseId: b.leaseId,
      id: b.poolId,
      organizationId: b.organizationId,
      app: b.appKey,
      externalRef: foreign.strings.find((s) => s.startsWith('bsecretref'))!,
      model: foreign.strings.find((s) => s.startsWith('bsecretmodel'))!,
    });
    const echoed = [...params.values()];
    const problems: string[] = [];
    const adminAnswers: Record<string, number> = {};
    for (const route of routes) {
      // A route with an organization in its path (the public revocation list) is asked for B's;
      // the control reads A's own.
      const path = route.replace(':organizationId', b.organizationId);
      // Public by design, like a CRL: the list names B's revoked borrows by their (opaque) lease
      // ids and times to whoever has B's organization id, and nothing else of B.
      const published = path === route ? [] : [b.revokedBorrowId];
      if (path !== route) {
        const own = await request(t.server).get(route.replace(':organizationId', a.organizationId));
        adminAnswers[route] = own.status;
        if (own.text.includes(b.revokedBorrowId)) problems.push(`A's own ${route} names B's revoked borrow`);
      }
      for (const role of ROLES) {
        const res = await request(t.server)
          .get(`${path}?${params}`)
          .set('authorization', `Bearer ${keyOf(role)}`);
        if (role === 'ADMIN' && path === route) adminAnswers[route] = res.status;
        answerProblems({ status: res.status, text: decodedJws(res.text) }, [...echoed, ...published], foreign).forEach((p) =>
          problems.push(`${role} GET ${route} ${p}: ${res.text.slice(0, 300)}`),
        );
      }
    }
    expect(problems).toEqual([]);
    // The control: A's admin read every route (the CSV files of A's own ledger included).
    expect(Object.entries(adminAnswers).filter(([, status]) => status !== 200)).toEqual([]);
  }, 120_000);

  it("changes nothing of B and shows nothing of it through any mutation over B's ids, names, app keys, refs and models", async () => {
    const before = await snapshot(b.organizationId);
    const { problems, walked } = await walkForeign(['Mutation'], { compare: false, echoed: new Set() });
    // An ADMIN may run every mutation: one that names B's object must be refused as if it did not exist.
    const notRefused = walked
      .filter((w) => w.role === 'ADMIN' && foreign.uuids.includes(w.value) && w.op.takesIds)
      .map((w) => ({ w, code: (w.body.errors?.[0]?.extensions?.code as string | undefined) ?? batchRefusal(w.body.data) ?? 'data' }))
      .filter(({ code }) => code !== 'NOT_FOUND' && code !== 'BAD_USER_INPUT')
      .map(({ w, code }) => `${w.op.field} with ${w.value} answered ${code}`);
    expect(problems).toEqual([]);
    expect(notRefused).toEqual([]);
    expect(walked.length).toBeGreaterThan(foreignValues.length * ROLES.length);
    expect(await snapshot(b.organizationId)).toEqual(before);
  }, 600_000);

  it("records traces naming B's work units, models and span ids in A alone, and tells A nothing of B", async () => {
    const ref = foreign.strings.find((s) => s.startsWith('bsecretref'))!;
    const model = foreign.strings.find((s) => s.startsWith('bsecretmodel'))!;
    const provider = foreign.strings.find((s) => s.startsWith('bsecretprovider'))!;
    const attributes = (values: Record<string, string | number>) =>
      Object.entries(values).map(([key, value]) => ({ key, value: typeof value === 'number' ? { intValue: String(value) } : { stringValue: value } }));
    const span = (traceId: string, spanId: string, extra: Record<string, string | number> = {}) => ({
      traceId,
      spanId,
      name: 'chat',
      startTimeUnixNano: String(BigInt(Date.now() - 1000) * 1_000_000n),
      endTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
      attributes: attributes({
        'gen_ai.provider.name': provider,
        'gen_ai.request.model': model,
        'gen_ai.usage.input_tokens': 10,
        'gen_ai.usage.output_tokens': 5,
        'tokenpool.work_unit': ref,
        ...extra,
      }),
    });
    const body = (spans: unknown[]) =>
      JSON.stringify({
        resourceSpans: [{ resource: { attributes: attributes({ 'tokenpool.work_unit': ref }) }, scopeSpans: [{ scope: { name: 'isolation' }, spans }] }],
      });
    const post = (key: string, payload: string) =>
      request(t.server).post('/v1/traces').set('content-type', 'application/json').set('authorization', `Bearer ${key}`).send(payload);
    const hex = () => randomUUID().replace(/-/g, '');

    // B exports a span first; A then sends the same trace and span ids with other figures.
    const bTrace = hex();
    const bSpan = span(bTrace, bTrace.slice(0, 16));
    expect((await post(b.clientKey, body([bSpan]))).body).toEqual({ partialSuccess: {} });
    const before = await snapshot(b.organizationId);
    const problems: string[] = [];
    const traces: string[] = [];
    const answers: { role: Role; status: number; body: unknown }[] = [];
    const exportAs = async (role: Role, spans: unknown[]) => {
      const res = await post(keyOf(role), body(spans));
      answerProblems({ status: res.status, text: res.text }, [ref, model, provider, b.workUnitId], foreign).forEach((p) =>
        problems.push(`${role} POST /v1/traces ${p}: ${res.text.slice(0, 300)}`),
      );
      answers.push({ role, status: res.status, body: res.body });
    };
    for (const role of ROLES) {
      const trace = hex();
      traces.push(trace);
      await exportAs(role, [
        span(trace, trace.slice(0, 16), { 'tokenpool.work_unit': ref }),
        span(trace, hex().slice(0, 16), { 'tokenpool.work_unit': b.workUnitId }),
      ]);
    }
    // B's trace and span ids with other figures: new to A, so accepted, not a duplicate or a conflict of B's.
    await exportAs('CLIENT', [span(bTrace, bTrace.slice(0, 16), { 'gen_ai.usage.input_tokens': 11, 'gen_ai.usage.output_tokens': 6 })]);
    expect(problems).toEqual([]);
    const accepted = { status: 200, body: { partialSuccess: {} } };
    const forbidden = {
      status: 403,
      body: expect.objectContaining({ errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })] }),
    };
    expect(answers).toEqual([
      { role: 'ADMIN', ...accepted },
      { role: 'CLIENT', ...accepted },
      { role: 'VIEWER', ...forbidden },
      { role: 'CLIENT', ...accepted },
    ]);
    const rows: { organization_id: string; unit_org: string | null }[] = await dataSource.query(
      `SELECT l.organization_id, w.organization_id AS unit_org FROM ledger_entries l LEFT JOIN work_units w ON w.id = l.work_unit_id
       WHERE split_part(l.event_key, ':', 3) = ANY($1)`,
      [[...traces, bTrace]],
    );
    // ADMIN and CLIENT recorded two spans each and CLIENT the one with B's ids, all in A on A's work units; B has its one.
    expect(rows.filter((r) => r.organization_id === a.organizationId && r.unit_org === a.organizationId)).toHaveLength(5);
    expect(rows.filter((r) => r.organization_id === b.organizationId)).toHaveLength(1);
    expect(rows).toHaveLength(6);
    expect(await snapshot(b.organizationId)).toEqual(before);
  });
});

/** A batch mutation (heartbeats) refuses each item in its own slot: the code they all share, if they share one. */
function batchRefusal(data: unknown): string | undefined {
  const items = Object.values((data ?? {}) as Record<string, unknown>)[0];
  if (!Array.isArray(items) || items.length === 0) return undefined;
  const codes = new Set(items.map((item) => (item as { code?: unknown }).code));
  const [code] = [...codes];
  return codes.size === 1 && typeof code === 'string' ? code : undefined;
}

/** A compact JWS's payload as text (the revocation list), so the leak check reads what it says; any other answer as it is. */
function decodedJws(text: string): string {
  const parts = text.split('.');
  if (parts.length !== 3 || !/^[\w-]+$/.test(parts[1])) return text;
  return `${text}\n${Buffer.from(parts[1], 'base64url').toString('utf8')}`;
}
