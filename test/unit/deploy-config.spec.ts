import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/env';

/**
 * The delivery files are not exercised by the e2e tier (no Docker engine or cluster here),
 * so these checks pin the promises they make: Redis that never evicts, services that wait
 * for healthy dependencies, a chart whose values match its schema.
 */
const root = join(__dirname, '..', '..');
const chartDir = join(root, 'helm', 'tokenpool');

type Json = Record<string, unknown>;

function readText(...parts: string[]): string {
  return readFileSync(join(root, ...parts), 'utf8');
}

function readYaml(...parts: string[]): Json {
  return parse(readText(...parts)) as Json;
}

function asObject(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${what} is not a mapping`);
  }
  return value as Json;
}

function commandText(command: unknown): string {
  return Array.isArray(command) ? command.join(' ') : String(command);
}

function validateValues(values: unknown): { valid: boolean; errors: string } {
  const schema = JSON.parse(readText('helm', 'tokenpool', 'values.schema.json')) as Json;
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  const validate = ajv.compile(schema);
  const valid = validate(values);
  return { valid, errors: ajv.errorsText(validate.errors) };
}

describe('docker-compose.yml', () => {
  const services = asObject(readYaml('docker-compose.yml').services, 'services');
  const service = (name: string): Json => asObject(services[name], `service ${name}`);

  it('defines postgres, redis, api and worker', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgres', 'redis', 'api', 'worker']));
  });

  it('runs redis with append-only persistence and the noeviction policy', () => {
    const command = commandText(service('redis').command);
    expect(command).toMatch(/--appendonly yes/);
    expect(command).toMatch(/--maxmemory-policy noeviction/);
  });

  it.each(['api', 'worker'])('starts %s only after postgres and redis are healthy', (name) => {
    const dependsOn = asObject(service(name).depends_on, `${name}.depends_on`);
    expect(dependsOn.postgres).toEqual({ condition: 'service_healthy' });
    expect(dependsOn.redis).toEqual({ condition: 'service_healthy' });
  });

  it('starts the worker only after the api is healthy, so migrations are applied', () => {
    const dependsOn = asObject(service('worker').depends_on, 'worker.depends_on');
    expect(dependsOn.api).toEqual({ condition: 'service_healthy' });
  });

  it.each(['postgres', 'redis', 'api', 'worker'])('gives %s a healthcheck', (name) => {
    const healthcheck = asObject(service(name).healthcheck, `${name}.healthcheck`);
    expect(commandText(healthcheck.test)).not.toHaveLength(0);
  });

  it('runs the api and the worker from the same image with their own entry points', () => {
    expect(service('api').image).toBe(service('worker').image);
    // The API with the larger young generation it ships with everywhere (see the Dockerfile).
    expect(commandText(service('api').command)).toBe('node --max-semi-space-size=32 dist/main.js');
    expect(commandText(service('worker').command)).toBe('node dist/worker.js');
  });

  it('ships a demo bootstrap admin key the service accepts', () => {
    const environment = asObject(service('api').environment, 'api.environment');
    expect(environment.BOOTSTRAP_ADMIN_KEY).toMatch(/^tp_[A-Za-z0-9]{20,200}$/);
  });
});

describe('helm chart', () => {
  it('declares an apiVersion v2 chart named tokenpool', () => {
    const chart = readYaml('helm', 'tokenpool', 'Chart.yaml');
    expect(chart.apiVersion).toBe('v2');
    expect(chart.name).toBe('tokenpool');
  });

  it('has values.yaml that satisfies values.schema.json', () => {
    const result = validateValues(readYaml('helm', 'tokenpool', 'values.yaml'));
    expect(result.errors).toBe('No errors');
    expect(result.valid).toBe(true);
  });

  it('rejects a replica count that is not a number', () => {
    const values = readYaml('helm', 'tokenpool', 'values.yaml');
    const broken = { ...values, api: { ...asObject(values.api, 'api'), replicaCount: 'two' } };
    expect(validateValues(broken).valid).toBe(false);
  });

  it('rejects an unknown top-level key', () => {
    const broken = { ...readYaml('helm', 'tokenpool', 'values.yaml'), replicas: 2 };
    expect(validateValues(broken).valid).toBe(false);
  });

  it('reads connection secrets from an existing Secret instead of bundling databases', () => {
    const values = readYaml('helm', 'tokenpool', 'values.yaml');
    expect(values).toHaveProperty('existingSecret');
    expect(values).not.toHaveProperty('postgresql');
    expect(values).not.toHaveProperty('redis');
  });

  it.each([
    'Chart.yaml',
    'values.yaml',
    'values.schema.json',
    'templates/_helpers.tpl',
    'templates/deployment-api.yaml',
    'templates/deployment-worker.yaml',
    'templates/service.yaml',
    'templates/service-metrics.yaml',
    'templates/configmap.yaml',
    'templates/job-migrate.yaml',
    'templates/hpa.yaml',
    'templates/pdb.yaml',
    'templates/serviceaccount.yaml',
    'templates/NOTES.txt',
  ])('contains %s', (file) => {
    expect(existsSync(join(chartDir, file))).toBe(true);
  });

  it('runs migrations in a pre-install and pre-upgrade hook Job', () => {
    const job = readText('helm', 'tokenpool', 'templates', 'job-migrate.yaml');
    expect(job).toMatch(/helm\.sh\/hook: pre-install,pre-upgrade/);
    expect(job).toMatch(/\["node", "dist\/cli\.js", "migrate"\]/);
  });

  it.each(['deployment-api.yaml', 'deployment-worker.yaml'])('gives %s separate probes and a config checksum', (file) => {
    const deployment = readText('helm', 'tokenpool', 'templates', file);
    for (const probe of ['startupProbe:', 'readinessProbe:', 'livenessProbe:', 'checksum/config:']) {
      expect(deployment).toContain(probe);
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readText('Dockerfile');
  const instructions = dockerfile.split('\n').map((line) => line.trim());

  it('builds in more than one stage', () => {
    expect(instructions.filter((line) => /^FROM\s/i.test(line)).length).toBeGreaterThan(1);
  });

  it('switches to a non-root user', () => {
    const users = instructions.filter((line) => /^USER\s/i.test(line));
    expect(users.length).toBeGreaterThan(0);
    expect(users[users.length - 1]).not.toMatch(/^USER\s+(root|0)(:|\s|$)/i);
  });

  it("copies every workspace's manifest before each npm ci, so the lockfile's workspaces install", () => {
    const workspaces = (JSON.parse(readText('package.json')) as { workspaces: string[] }).workspaces;
    expect(workspaces.length).toBeGreaterThan(0);
    const ciLines = instructions.map((line, i) => (/^RUN npm ci/.test(line) ? i : -1)).filter((i) => i >= 0);
    expect(ciLines.length).toBeGreaterThan(0);
    for (const ci of ciLines) {
      const stageStart = instructions.slice(0, ci).findLastIndex((line) => /^FROM\s/i.test(line));
      const copied = instructions.slice(stageStart, ci).join('\n');
      for (const workspace of workspaces) expect(copied).toContain(`COPY ${workspace}/package.json ./${workspace}/`);
    }
  });

  it('checks health against /health/live and starts the API by default', () => {
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/health\/live/);
    expect(dockerfile).toMatch(/CMD \["node", "--max-semi-space-size=32", "dist\/main\.js"\]/);
  });

  it('starts the API with the Node flags the chart and npm start give it', () => {
    const values = readYaml('helm', 'tokenpool', 'values.yaml') as { api: { nodeArgs: string[] } };
    expect(values.api.nodeArgs).toEqual(['--max-semi-space-size=32']);
    expect(readText('helm', 'tokenpool', 'templates', 'deployment-api.yaml')).toContain('range .Values.api.nodeArgs');
    expect(dockerfile).toContain(`CMD ["node", ${values.api.nodeArgs.map((a) => JSON.stringify(a)).join(', ')}, "dist/main.js"]`);
    expect(readText('scripts', 'start.js')).toContain(`'${values.api.nodeArgs[0]}', dist('main.js')`);
  });
});

/**
 * The API's metrics list every organization's pools, so they have a port of their own
 * (METRICS_PORT): each delivery file must open and scrape that port, and never put it on
 * the public one.
 */
describe('metrics port', () => {
  const defaults = parseConfig({});
  const values = readYaml('helm', 'tokenpool', 'values.yaml') as { config: { port: number; metricsPort: number; workerPort: number } };
  const services = asObject(readYaml('docker-compose.yml').services, 'services');
  const service = (name: string): Json => asObject(services[name], `service ${name}`);
  const template = (file: string) => readText('helm', 'tokenpool', 'templates', file);

  it('is the service default in the chart, and apart from the public and worker ports', () => {
    expect(values.config.metricsPort).toBe(defaults.metricsPort);
    expect(values.config.metricsPort).not.toBe(values.config.port);
    expect(values.config.metricsPort).not.toBe(values.config.workerPort);
  });

  it('is set in the ConfigMap and opened as a named container port of the API', () => {
    expect(template('configmap.yaml')).toMatch(/^\s+METRICS_PORT: \{\{ \$c\.metricsPort \| quote \}\}$/m);
    expect(template('deployment-api.yaml')).toMatch(/- name: metrics\s+containerPort: \{\{ \.Values\.config\.metricsPort \}\}/);
  });

  it('is scraped through prometheus.io annotations on the API pods, and the worker on its own port', () => {
    const helpers = template('_helpers.tpl');
    for (const key of ['prometheus.io/scrape', 'prometheus.io/port', 'prometheus.io/path']) expect(helpers).toContain(`"${key}"`);
    expect(template('deployment-api.yaml')).toMatch(
      /include "tokenpool\.podAnnotations" \(dict "ctx" \. "port" \.Values\.config\.metricsPort "extra" \.Values\.api\.podAnnotations\)/,
    );
    expect(template('deployment-worker.yaml')).toMatch(
      /include "tokenpool\.podAnnotations" \(dict "ctx" \. "port" \.Values\.config\.workerPort "extra" \.Values\.worker\.podAnnotations\)/,
    );
    expect((readYaml('helm', 'tokenpool', 'values.yaml') as { metrics: { podAnnotations: boolean } }).metrics.podAnnotations).toBe(true);
  });

  it('stays off the public API Service, and has a Service of its own', () => {
    expect(template('service.yaml')).not.toMatch(/metricsPort|name: metrics/);
    const metricsService = template('service-metrics.yaml');
    expect(metricsService).toMatch(/if \.Values\.metrics\.service\.enabled/);
    expect(metricsService).toMatch(/targetPort: metrics/);
  });

  it('is exposed to the compose network, not published, and scraped by the compose Prometheus', () => {
    const api = service('api');
    expect((api.expose as unknown[]).map(String)).toContain(String(defaults.metricsPort));
    expect((api.ports as unknown[]).map(String).join(' ')).not.toContain(String(defaults.metricsPort));
    const prometheus = readText('docker-compose.yml');
    expect(prometheus).toContain(`api:${defaults.metricsPort}`);
    expect(prometheus).toContain(`worker:${defaults.workerPort}`);
    expect(service('prometheus').profiles).toEqual(['metrics']);
  });

  it('is exposed by the image', () => {
    const expose = readText('Dockerfile')
      .match(/^EXPOSE (.+)$/m)?.[1]
      .split(/\s+/);
    expect(expose).toEqual(expect.arrayContaining([String(defaults.port), String(defaults.workerPort), String(defaults.metricsPort)]));
  });
});

describe('helm ConfigMap', () => {
  const values = readYaml('helm', 'tokenpool', 'values.yaml') as { config: Json };
  const lines = readText('helm', 'tokenpool', 'templates', 'configmap.yaml').split('\n');
  const fromValues = lines
    .map((line) => /^\s{2}([A-Z_]+): \{\{ \$c\.([A-Za-z.]+)(?: \| int)? \| quote \}\}$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null);

  function valueAt(path: string): unknown {
    return path.split('.').reduce<unknown>((node, key) => asObject(node, path)[key], values.config);
  }

  it('renders every setting from a value the chart defines', () => {
    expect(fromValues.length).toBeGreaterThan(30);
    for (const [, name, path] of fromValues) expect({ name, value: valueAt(path) }).toEqual({ name, value: expect.anything() });
  });

  it('gives the service a configuration it accepts with the default values', () => {
    const env = Object.fromEntries(fromValues.map(([, name, path]) => [name, String(valueAt(path))]));
    expect(() => parseConfig(env)).not.toThrow();
  });

  it('sets every limit of .env.example, secrets aside', () => {
    const documented = readText('.env.example')
      .split('\n')
      .map((line) => /^#?\s?([A-Z][A-Z_]+)=/.exec(line)?.[1])
      .filter((name): name is string => name !== undefined);
    const rendered = new Set([...fromValues.map(([, name]) => name), 'HOST', 'MIGRATIONS_RUN']);
    const outside = ['DATABASE_URL', 'DATABASE_OWNER_URL', 'REDIS_URL', 'BOOTSTRAP_ADMIN_KEY', 'LEASE_SIGNING_KEY', 'INSTANCE_ID'];
    expect(documented.filter((name) => !rendered.has(name) && !outside.includes(name))).toEqual([]);
  });
});

describe('.env.example', () => {
  it('lists every variable the service reads', () => {
    const read = [...readText('src', 'config', 'env.ts').matchAll(/r\.(?:int|bool|string|optional|url|oneOf)\('([A-Z_]+)'/g)].map((m) => m[1]);
    const example = readText('.env.example');
    expect(read.length).toBeGreaterThan(30);
    expect(read.filter((name) => !new RegExp(`^#?\\s?${name}=`, 'm').test(example))).toEqual([]);
  });
});

describe('production code', () => {
  // Tests swap providers or start a test-only entrypoint (test/support/*-api.js); the shipped code has no test switch.
  it('reads no TEST_* switch', () => {
    const files = (readdirSync(join(root, 'src'), { recursive: true }) as string[]).filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'));
    expect(files.length).toBeGreaterThan(100);
    expect(files.filter((file) => /\bTEST_[A-Z]/.test(readText('src', file)))).toEqual([]);
  });
});
