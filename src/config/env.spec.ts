import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, parseConfig } from './env';

describe('parseConfig', () => {
  it('works against local services with no variables set', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      port: 3000,
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/tokenpool',
      redisUrl: 'redis://127.0.0.1:6379',
      rateLimitPoints: 3000,
    });
  });

  it('lists every bad variable at once', () => {
    let error: unknown;
    try {
      parseConfig({ PORT: 'eighty', REDIS_URL: 'http://x', LOG_LEVEL: 'loud', BOOTSTRAP_ADMIN_KEY: 'short' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toContain('PORT');
    expect(problems).toContain('REDIS_URL');
    expect(problems).toContain('LOG_LEVEL');
    expect(problems).toContain('BOOTSTRAP_ADMIN_KEY');
  });

  it('reads the report settings: false-denial interval and rollup cadence', () => {
    expect(parseConfig({})).toMatchObject({ falseDenialSeconds: 60, rollupIntervalSeconds: 300 });
    expect(parseConfig({ FALSE_DENIAL_SECONDS: '0', ROLLUP_INTERVAL_SECONDS: '60' })).toMatchObject({ falseDenialSeconds: 0, rollupIntervalSeconds: 60 });
    expect(() => parseConfig({ FALSE_DENIAL_SECONDS: '-1' })).toThrow('FALSE_DENIAL_SECONDS');
    expect(() => parseConfig({ ROLLUP_INTERVAL_SECONDS: '1' })).toThrow('ROLLUP_INTERVAL_SECONDS');
  });

  it('reads REDIS_CLUSTER_NODES as host:port seeds, unset (one Redis) when empty, and refuses anything else', () => {
    expect(parseConfig({}).redisClusterNodes).toBeUndefined();
    expect(parseConfig({ REDIS_CLUSTER_NODES: '' }).redisClusterNodes).toBeUndefined();
    expect(parseConfig({ REDIS_CLUSTER_NODES: 'redis-0.redis:6379, 10.0.0.2:7000,[::1]:6380' }).redisClusterNodes).toEqual([
      { host: 'redis-0.redis', port: 6379 },
      { host: '10.0.0.2', port: 7000 },
      { host: '::1', port: 6380 },
    ]);
    for (const bad of ['redis-0', 'a:6379,,b:6379', 'a:0', 'a:70000', 'redis://a:6379']) {
      expect(() => parseConfig({ REDIS_CLUSTER_NODES: bad })).toThrow('REDIS_CLUSTER_NODES');
    }
  });

  it('turns introspection off by default in production', () => {
    expect(parseConfig({ NODE_ENV: 'production' }).graphqlIntrospection).toBe(false);
  });

  it('keeps the key cache within the 2-second revocation promise', () => {
    expect(() => parseConfig({ API_KEY_CACHE_SECONDS: '5' })).toThrow('API_KEY_CACHE_SECONDS');
  });

  it('reads LEASE_SIGNING_KEY as Ed25519 PKCS8 PEM, also written on one line with \\n', () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(parseConfig({ LEASE_SIGNING_KEY: pem }).leaseSigningKey).toBe(pem.trim());
    expect(parseConfig({ LEASE_SIGNING_KEY: pem.trim().replace(/\n/g, '\\n') }).leaseSigningKey).toBe(pem.trim());
  });

  it('refuses a LEASE_SIGNING_KEY that is not Ed25519 without echoing it', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    for (const value of [rsa, 'not-a-key', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----']) {
      let error: unknown;
      try {
        parseConfig({ LEASE_SIGNING_KEY: value });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toContain('LEASE_SIGNING_KEY');
      expect((error as ConfigError).message).not.toContain(value.trim().split('\n')[1] ?? value);
    }
  });
});
