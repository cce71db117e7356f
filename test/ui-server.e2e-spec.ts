import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import { TestApp, codeOf } from './support/app';

/** The dashboard's files as the API serves them (headers, caching, fallback) and the reads it needs as a VIEWER. */
describe('/ui/ (the dashboard) and the VIEWER reads it needs', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await TestApp.start();
  });
  afterAll(async () => {
    await t?.close();
  });

  // fastify's inject keeps the raw bytes (supertest would decompress them).
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await t.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: path, headers });
    return { status: res.statusCode, headers: res.headers as Record<string, string | undefined>, body: res.rawPayload };
  };

  it('redirects /ui to /ui/ and answers index.html, not cached, under a CSP of its own origin only', async () => {
    const redirect = await get('/ui');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe('/ui/');

    const res = await get('/ui/', { host: 'tokenpool.example:8443' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['cache-control']).toBe('no-cache');
    const csp = res.headers['content-security-policy'];
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("style-src 'self';");
    expect(csp).toContain("connect-src 'self' ws://tokenpool.example:8443 wss://tokenpool.example:8443;");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const html = res.body.toString();
    expect(html).toContain('<div id="app">');
    // No inline script: every script comes from a hashed file under /ui/assets/.
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    expect(html).toMatch(/<script type="module" crossorigin src="\/ui\/assets\/index-[\w-]+\.js">/);
  });

  it('names no other host in the CSP when the Host header is not a plain host', async () => {
    const res = await get('/ui/', { host: 'evil.example; script-src *' });
    expect(res.headers['content-security-policy']).toContain("connect-src 'self';");
  });

  it('serves hashed assets for a year, compressed when asked, and 404 for an asset that is not there', async () => {
    const html = (await get('/ui/')).body.toString();
    const js = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)![1];
    const css = /href="(\/ui\/assets\/[^"]+\.css)"/.exec(html)![1];
    const plain = await get(js, { 'accept-encoding': 'identity' });
    expect(plain.status).toBe(200);
    expect(plain.headers['content-type']).toMatch(/^text\/javascript/);
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    const gz = await get(js, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
    const br = await get(js, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);
    expect(br.headers.vary).toMatch(/accept-encoding/i);
    const styles = await get(css, { 'accept-encoding': 'br' });
    expect(styles.headers['content-type']).toMatch(/^text\/css/);
    expect(styles.headers['cache-control']).toContain('immutable');
    // The first load's compressed JavaScript and CSS stay under the 300 KB budget.
    expect(br.body.length + styles.body.length).toBeLessThan(300 * 1024);

    const missing = await get('/ui/assets/index-nothere.js');
    expect(missing.status).toBe(404);
  });

  it('answers index.html for any other path under /ui/ (the app routes by hash)', async () => {
    const res = await get('/ui/pools/some-pool');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.body.toString()).toContain('<div id="app">');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
  });

  it('lets a VIEWER read team limits and denials, and still refuses a CLIENT', async () => {
    const { adminKey } = await t.organization('ui-viewer');
    const pool = await t.gql<{ createPool: { id: string } }>(adminKey, 'mutation { createPool(input: { name: "p", cap: 10 }) { id } }');
    const poolId = pool.data!.createPool.id;
    await t.gql(adminKey, 'mutation($p: ID!) { setGroupLimit(input: { poolId: $p, team: "cae", reserved: 2, max: 5 }) { team } }', { p: poolId });
    const viewer = await t.principalWithKey(adminKey, 'VIEWER');
    const client = await t.principalWithKey(adminKey, 'CLIENT');
    const read =
      'query($p: ID!, $from: DateTime!, $to: DateTime!) { groupLimits(poolId: $p) { team reserved max } denials(poolId: $p, from: $from, to: $to) { reason } }';
    const vars = { p: poolId, from: new Date(Date.now() - 86_400_000).toISOString(), to: new Date().toISOString() };
    const asViewer = await t.gql<{ groupLimits: unknown[]; denials: unknown[] }>(viewer.key, read, vars);
    expect(asViewer.errors).toBeUndefined();
    expect(asViewer.data!.groupLimits).toEqual([{ team: 'cae', reserved: 2, max: 5 }]);
    expect(asViewer.data!.denials).toEqual([]);
    expect(codeOf(await t.gql(client.key, 'query($p: ID!) { groupLimits(poolId: $p) { team } }', { p: poolId }))).toBe('FORBIDDEN');
    expect(
      codeOf(await t.gql(client.key, 'query($p: ID!, $from: DateTime!, $to: DateTime!) { denials(poolId: $p, from: $from, to: $to) { reason } }', vars)),
    ).toBe('FORBIDDEN');
    const me = await t.gql<{ currentKey: { role: string } }>(viewer.key, '{ currentKey { role } }');
    expect(me.data!.currentKey.role).toBe('VIEWER');
  });
});
