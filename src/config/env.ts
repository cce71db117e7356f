import { createPrivateKey, KeyObject, randomBytes } from 'node:crypto';

/**
 * The whole runtime configuration, parsed once from the environment. No other file reads
 * process.env: everything else receives this object, so a bad variable fails the boot with
 * one message that lists every problem instead of surfacing later as an odd fault.
 */
export interface AppConfig {
  nodeEnv: string;
  port: number;
  workerPort: number;
  host: string;
  databaseUrl: string;
  /**
   * The role that owns the schema: migrations, the grants to DATABASE_URL's role and the
   * ledger's partition upkeep (through a SECURITY DEFINER function) run as it. Unset: the
   * service uses databaseUrl for both, and the ledger is protected by its triggers only.
   */
  databaseOwnerUrl?: string;
  /** Most PostgreSQL connections one process holds. */
  databasePoolMax: number;
  databaseCreate: boolean;
  migrationsRun: boolean;
  redisUrl: string;
  redisPrefix: string;
  /**
   * Seeds (host and port) of a Redis Cluster; when set, every connection is a Cluster client
   * that takes REDIS_URL's credentials and TLS, and BullMQ's prefix gets a hash tag.
   */
  redisClusterNodes?: { host: string; port: number }[];
  logLevel: string;
  /** A denial followed by a grant of the same app to the same principal within this many seconds is a false denial. */
  falseDenialSeconds: number;
  /** How often the worker brings the usage rollups up to date. */
  rollupIntervalSeconds: number;
  /** burnReport maturity: the going-concern share of cost from which burn is operational, and the outcome-linked share of that from which it is productive (0..1). */
  burnThresholds: { goingConcernShare: number; outcomeLinkedShare: number };
  bootstrapAdminKey?: string;
  leaseSigningKey?: string;
  graphqlIntrospection: boolean;
  graphqlMaxDepth: number;
  graphqlMaxCost: number;
  graphqlMaxAliases: number;
  graphqlMaxRootFields: number;
  /** Most tokens in one document (the parser stops counting past it). */
  graphqlMaxTokens: number;
  bodyLimitBytes: number;
  rateLimitPoints: number;
  rateLimitDurationSeconds: number;
  apiKeyCacheSeconds: number;
  /** While PostgreSQL is unreachable, keys verified within this many seconds keep working (heartbeats survive a short outage). */
  authStaleSeconds: number;
  shutdownGraceSeconds: number;
  rebuildGraceSeconds: number;
  sweepIntervalMs: number;
  /** How often the worker seals each organization's ledger (chained digests). */
  ledgerSealIntervalSeconds: number;
  /** Compute events may be dated this far ahead of the server clock (clock skew), no further. */
  ledgerMaxFutureSeconds: number;
  /** Compute events older than this are refused as absurd. */
  ledgerMaxEventAgeDays: number;
  /** Body limit of POST /v1/traces (after gunzip). */
  otlpBodyLimitBytes: number;
  /** Most spans one POST /v1/traces request may carry, and most attributes per span (hostile-input bounds). */
  otlpMaxSpans: number;
  otlpMaxAttributes: number;
  /** Most subscriptions one WebSocket may hold at once. */
  subscriptionsPerSocket: number;
  /** Most WebSockets one API key may hold open on one API process at once. */
  socketsPerKey: number;
  /** How often the worker compares each organization's budget spend in Redis with PostgreSQL's record. */
  budgetVerifySeconds: number;
  /** An MCP session without a request (or an open stream) for this long is closed and its leases checked in. */
  mcpSessionIdleSeconds: number;
  /** Port of the API's Prometheus endpoint, apart from the public port (0 picks a free one). */
  metricsPort: number;
  /** Most waiting check-outs per principal and pool, and per pool. */
  queueMaxPerPrincipal: number;
  queueMaxPerPool: number;
  /** Exports one organization may run at once (across every replica), and how long a stalled reader may keep one. */
  exportSlotsPerOrganization: number;
  exportIdleTimeoutSeconds: number;
  /** Refusals of the same principal, app and pool within this many seconds share one denial row (with a count). */
  denialCoalesceSeconds: number;
  instanceId: string;
}

type Env = Record<string, string | undefined>;

class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string {
    const raw = this.env[name];
    return raw === undefined || raw === '' ? fallback : raw;
  }

  optional(name: string): string | undefined {
    const raw = this.env[name];
    return raw === undefined || raw === '' ? undefined : raw;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
    if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
    this.problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  }

  url(name: string, fallback: string, protocols: string[]): string {
    const value = this.string(name, fallback);
    try {
      const parsed = new URL(value);
      if (!protocols.includes(parsed.protocol)) {
        this.problems.push(`${name} must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
      }
    } catch {
      this.problems.push(`${name} is not a valid URL`);
    }
    return value;
  }

  oneOf(name: string, fallback: string, allowed: string[]): string {
    const value = this.string(name, fallback);
    if (!allowed.includes(value)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${value}"`);
    }
    return value;
  }
}

/**
 * LEASE_SIGNING_KEY: an Ed25519 private key in PKCS8 PEM. Literal "\n" sequences are read as
 * line breaks, so the key fits on one line of an env file. A secret: never echoed in a problem.
 */
function leaseSigningKey(r: EnvReader): string | undefined {
  const raw = r.optional('LEASE_SIGNING_KEY');
  if (raw === undefined) return undefined;
  const pem = raw.replace(/\\n/g, '\n').trim();
  const key = pem.startsWith('-----BEGIN PRIVATE KEY-----') ? parsePrivateKey(pem) : null;
  if (key?.asymmetricKeyType !== 'ed25519') {
    r.problems.push(
      'LEASE_SIGNING_KEY must be an Ed25519 private key in PKCS8 PEM (-----BEGIN PRIVATE KEY-----), e.g. from `openssl genpkey -algorithm ed25519`',
    );
    return undefined;
  }
  return pem;
}

/** REDIS_CLUSTER_NODES: comma-separated host:port seeds; the client discovers the other nodes from them. */
function clusterNodes(r: EnvReader): { host: string; port: number }[] | undefined {
  const raw = r.optional('REDIS_CLUSTER_NODES');
  if (raw === undefined) return undefined;
  const nodes = raw.split(',').map((seed) => /^\s*([^\s:,]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})\s*$/.exec(seed));
  if (nodes.some((m) => m === null || Number(m[2]) < 1 || Number(m[2]) > 65535)) {
    r.problems.push(`REDIS_CLUSTER_NODES must list host:port seeds separated by commas, got "${raw}"`);
    return undefined;
  }
  return nodes.map((m) => ({ host: m![1].replace(/^\[|\]$/g, ''), port: Number(m![2]) }));
}

/** DATABASE_OWNER_URL: optional, a postgres URL. A secret: a problem never quotes it. */
function ownerUrl(r: EnvReader): string | undefined {
  const raw = r.optional('DATABASE_OWNER_URL');
  if (raw === undefined) return undefined;
  let protocol: string | undefined;
  try {
    protocol = new URL(raw).protocol;
  } catch {
    // Reported below without the value, which may hold a password.
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    r.problems.push('DATABASE_OWNER_URL must be a postgres:// or postgresql:// URL');
    return undefined;
  }
  return raw;
}

function parsePrivateKey(pem: string): KeyObject | null {
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // Unreadable PEM: reported by the caller without the error, whose text may quote the key.
    return null;
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function parseConfig(env: Env): AppConfig {
  const r = new EnvReader(env);
  const nodeEnv = r.string('NODE_ENV', 'development');
  const bootstrapAdminKey = r.optional('BOOTSTRAP_ADMIN_KEY');
  if (bootstrapAdminKey !== undefined && !/^tp_[A-Za-z0-9]{20,200}$/.test(bootstrapAdminKey)) {
    r.problems.push('BOOTSTRAP_ADMIN_KEY must look like tp_ followed by 20 to 200 letters or digits');
  }
  const redisPrefix = r.string('REDIS_PREFIX', 'tp');
  if (!/^[A-Za-z0-9:_-]{1,64}$/.test(redisPrefix)) {
    r.problems.push('REDIS_PREFIX may hold only letters, digits, ":", "_" and "-" (1 to 64 of them)');
  }
  const config: AppConfig = {
    nodeEnv,
    port: r.int('PORT', 3000, 0, 65535),
    workerPort: r.int('WORKER_PORT', 3001, 0, 65535),
    host: r.string('HOST', '0.0.0.0'),
    databaseUrl: r.url('DATABASE_URL', 'postgres://postgres@127.0.0.1:5432/tokenpool', ['postgres:', 'postgresql:']),
    databaseOwnerUrl: ownerUrl(r),
    databasePoolMax: r.int('DATABASE_POOL_MAX', 20, 2, 500),
    databaseCreate: r.bool('DATABASE_CREATE', true),
    migrationsRun: r.bool('MIGRATIONS_RUN', true),
    redisUrl: r.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    redisPrefix,
    redisClusterNodes: clusterNodes(r),
    logLevel: r.oneOf('LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    falseDenialSeconds: r.int('FALSE_DENIAL_SECONDS', 60, 0, 86_400),
    rollupIntervalSeconds: r.int('ROLLUP_INTERVAL_SECONDS', 300, 10, 86_400),
    burnThresholds: {
      goingConcernShare: r.int('BURN_GOING_CONCERN_PERCENT', 50, 0, 100) / 100,
      outcomeLinkedShare: r.int('BURN_OUTCOME_LINKED_PERCENT', 50, 0, 100) / 100,
    },
    bootstrapAdminKey,
    leaseSigningKey: leaseSigningKey(r),
    graphqlIntrospection: r.bool('GRAPHQL_INTROSPECTION', nodeEnv !== 'production'),
    graphqlMaxDepth: r.int('GRAPHQL_MAX_DEPTH', 8, 2, 50),
    graphqlMaxCost: r.int('GRAPHQL_MAX_COST', 5000, 10, 1_000_000),
    graphqlMaxAliases: r.int('GRAPHQL_MAX_ALIASES', 30, 1, 1000),
    graphqlMaxRootFields: r.int('GRAPHQL_MAX_ROOT_FIELDS', 20, 1, 1000),
    graphqlMaxTokens: r.int('GRAPHQL_MAX_TOKENS', 10_000, 100, 1_000_000),
    bodyLimitBytes: r.int('BODY_LIMIT_BYTES', 1_048_576, 1024, 64 * 1_048_576),
    rateLimitPoints: r.int('RATE_LIMIT_PER_KEY', 3000, 1, 10_000_000),
    rateLimitDurationSeconds: r.int('RATE_LIMIT_WINDOW_SECONDS', 1, 1, 3600),
    apiKeyCacheSeconds: r.int('API_KEY_CACHE_SECONDS', 1, 0, 2),
    authStaleSeconds: r.int('AUTH_STALE_SECONDS', 300, 0, 86_400),
    shutdownGraceSeconds: r.int('SHUTDOWN_GRACE_SECONDS', 25, 1, 600),
    rebuildGraceSeconds: r.int('REBUILD_GRACE_SECONDS', 30, 5, 3600),
    sweepIntervalMs: r.int('SWEEP_INTERVAL_MS', 2000, 100, 60_000),
    ledgerSealIntervalSeconds: r.int('LEDGER_SEAL_INTERVAL_SECONDS', 3600, 0, 86_400),
    ledgerMaxFutureSeconds: r.int('LEDGER_MAX_FUTURE_SECONDS', 300, 0, 86_400),
    ledgerMaxEventAgeDays: r.int('LEDGER_MAX_EVENT_AGE_DAYS', 400, 1, 36_500),
    otlpBodyLimitBytes: r.int('OTLP_BODY_LIMIT_BYTES', 4 * 1_048_576, 1024, 64 * 1_048_576),
    otlpMaxSpans: r.int('OTLP_MAX_SPANS', 10_000, 1, 1_000_000),
    otlpMaxAttributes: r.int('OTLP_MAX_ATTRIBUTES', 128, 1, 10_000),
    subscriptionsPerSocket: r.int('SUBSCRIPTIONS_PER_SOCKET', 20, 1, 1000),
    socketsPerKey: r.int('SOCKETS_PER_KEY', 50, 1, 10_000),
    budgetVerifySeconds: r.int('BUDGET_VERIFY_SECONDS', 300, 1, 86_400),
    mcpSessionIdleSeconds: r.int('MCP_SESSION_IDLE_SECONDS', 300, 1, 86_400),
    metricsPort: r.int('METRICS_PORT', 9464, 0, 65535),
    queueMaxPerPrincipal: r.int('QUEUE_MAX_PER_PRINCIPAL', 20, 1, 10_000),
    queueMaxPerPool: r.int('QUEUE_MAX_PER_POOL', 1000, 1, 100_000),
    exportSlotsPerOrganization: r.int('EXPORT_SLOTS_PER_ORGANIZATION', 2, 1, 64),
    exportIdleTimeoutSeconds: r.int('EXPORT_IDLE_TIMEOUT_SECONDS', 30, 1, 3600),
    denialCoalesceSeconds: r.int('DENIAL_COALESCE_SECONDS', 5, 0, 3600),
    instanceId: r.string('INSTANCE_ID', randomBytes(4).toString('hex')),
  };
  if (config.ledgerSealIntervalSeconds > 0 && config.ledgerSealIntervalSeconds < 60) {
    r.problems.push(
      `LEDGER_SEAL_INTERVAL_SECONDS must be 0 (the worker seals nothing: sealLedger only) or from 60 to 86400, got "${config.ledgerSealIntervalSeconds}"`,
    );
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

let loaded: AppConfig | undefined;

/** The process's configuration, parsed on first use. */
export function loadConfig(): AppConfig {
  loaded ??= parseConfig(process.env);
  return loaded;
}

export const APP_CONFIG = Symbol('APP_CONFIG');
