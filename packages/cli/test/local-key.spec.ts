import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectionOf, parseCommand } from '../src/args';
import { localAdminKey } from '../src/local-key';

describe("the local server's admin key (.tokenpool/admin-key, written by npm start)", () => {
  let clone: string;
  const deep = () => join(clone, 'packages', 'cli');

  beforeAll(() => {
    clone = mkdtempSync(join(tmpdir(), 'tp-clone-'));
    mkdirSync(join(clone, '.tokenpool'));
    writeFileSync(join(clone, '.tokenpool', 'admin-key'), 'tp_local_admin_key\n', { mode: 0o600 });
    mkdirSync(deep(), { recursive: true });
  });

  afterAll(() => rmSync(clone, { recursive: true, force: true }));

  it('is found from the clone or any folder in it, for the default URL and localhost', () => {
    expect(localAdminKey(undefined, clone)).toBe('tp_local_admin_key');
    expect(localAdminKey(undefined, deep())).toBe('tp_local_admin_key');
    expect(localAdminKey('http://localhost:3000', deep())).toBe('tp_local_admin_key');
    expect(localAdminKey('http://127.0.0.1:4000', deep())).toBe('tp_local_admin_key');
    expect(localAdminKey('http://[::1]:3000', deep())).toBe('tp_local_admin_key');
  });

  it('is never sent to another machine, and is absent outside a clone', () => {
    expect(localAdminKey('https://tokenpool.example.com', deep())).toBeUndefined();
    expect(localAdminKey('http://10.0.0.5:3000', deep())).toBeUndefined();
    expect(localAdminKey('not a url', deep())).toBeUndefined();
    expect(localAdminKey(undefined, tmpdir())).toBeUndefined();
  });

  it('stands in only when neither a flag nor TOKENPOOL_API_KEY gives a key', () => {
    const none = { url: undefined, apiKey: undefined };
    const status = parseCommand('status', [], {}, 0);
    expect(connectionOf(status, none, {}, deep()).apiKey).toBe('tp_local_admin_key');
    expect(connectionOf(status, none, { TOKENPOOL_API_KEY: 'tp_from_env' }, deep()).apiKey).toBe('tp_from_env');
    expect(connectionOf(status, { url: undefined, apiKey: 'tp_from_flag' }, {}, deep()).apiKey).toBe('tp_from_flag');
    expect(connectionOf(status, none, { TOKENPOOL_URL: 'https://tokenpool.example.com' }, deep()).apiKey).toBeUndefined();
  });
});
