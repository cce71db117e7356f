import type { ShareScope } from '../apps/catalog-app.entity';
import type { PrincipalKind } from '../auth/principal-kind';
import type { OrgUnitKind } from '../principals/principal.entity';
import type { ValueDimension } from '../work-units/work-unit.entity';

export interface DemoApp {
  key: string;
  name: string;
  vendor: string;
  cost: number;
  shareScope: ShareScope;
  lingerSeconds?: number;
  minimumChargeSeconds?: number;
}

export interface DemoPool {
  id: 'cae' | 'agent';
  name: string;
  cap: number;
  creditHourPrice: number;
  maxLeaseSeconds: number;
  apps: DemoApp[];
  limits: { team: string; reserved: number; max: number | null }[];
}

export interface DemoPerson {
  name: string;
  kind: PrincipalKind;
  team: string;
  orgUnitKind: OrgUnitKind;
}

export interface DemoProcess {
  name: string;
  orgUnitKind: OrgUnitKind;
  model: { provider: string; model: string };
  /** Model calls per work unit, inclusive range. */
  calls: [number, number];
  accepted: number;
  rejected: number;
  value: { dimension: ValueDimension; min: number; max: number } | null;
}

// Costs are the published per-app draws of /work/shared/data/example-catalog.json (Altair
// unit-draw tables, Siemens value-based licensing, Simcenter Nastran): a CAD app at 21, a
// viewer at 6, a solver at 50. Nastran SOL 401 is bought and never used: the shelfware.
export const DEMO_POOLS: DemoPool[] = [
  {
    id: 'cae',
    name: 'CAE units',
    cap: 300,
    creditHourPrice: 0.85,
    maxLeaseSeconds: 12 * 3600,
    apps: [
      { key: 'hypermesh', name: 'HyperMesh', vendor: 'Altair', cost: 21, shareScope: 'PRINCIPAL_HOST', lingerSeconds: 300 },
      { key: 'hyperview', name: 'HyperView', vendor: 'Altair', cost: 21, shareScope: 'PRINCIPAL_HOST', lingerSeconds: 300 },
      { key: 'hypergraph', name: 'HyperGraph', vendor: 'Altair', cost: 6, shareScope: 'PRINCIPAL_HOST' },
      { key: 'optistruct-4c', name: 'OptiStruct (1-4 cores)', vendor: 'Altair', cost: 50, shareScope: 'NONE', minimumChargeSeconds: 900 },
      { key: 'nx-draw-shape', name: 'NX Draw Shape', vendor: 'Siemens', cost: 17, shareScope: 'PRINCIPAL' },
      { key: 'nx-algorithmic-modeling', name: 'NX Algorithmic Modeling', vendor: 'Siemens', cost: 25, shareScope: 'PRINCIPAL' },
      { key: 'nastran-sol101', name: 'Simcenter Nastran SOL 101', vendor: 'Siemens', cost: 100, shareScope: 'NONE', minimumChargeSeconds: 1800 },
      { key: 'nastran-sol401', name: 'Simcenter Nastran SOL 401', vendor: 'Siemens', cost: 200, shareScope: 'NONE', minimumChargeSeconds: 1800 },
    ],
    limits: [
      { team: 'body-in-white', reserved: 60, max: 160 },
      { team: 'digital-twin-pilot', reserved: 0, max: 50 },
    ],
  },
  {
    id: 'agent',
    name: 'Agent tools',
    cap: 60,
    creditHourPrice: 0.4,
    maxLeaseSeconds: 3600,
    apps: [
      { key: 'mes-query', name: 'Query MES', vendor: 'internal', cost: 1, shareScope: 'WORK_UNIT', lingerSeconds: 60 },
      { key: 'schedule-sim', name: 'Simulate a schedule', vendor: 'internal', cost: 5, shareScope: 'WORK_UNIT' },
      { key: 'create-po', name: 'Create purchase order', vendor: 'internal', cost: 2, shareScope: 'NONE', minimumChargeSeconds: 60 },
      { key: 'quote-geometry', name: 'Sheet-metal geometry costing', vendor: 'internal', cost: 3, shareScope: 'WORK_UNIT', lingerSeconds: 120 },
    ],
    limits: [{ team: 'ai-programme', reserved: 0, max: 15 }],
  },
];

function people(prefix: string, count: number, team: string, orgUnitKind: OrgUnitKind): DemoPerson[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${prefix}-${i + 1}`, kind: 'USER' as const, team, orgUnitKind }));
}

export const DEMO_PEOPLE: DemoPerson[] = [
  ...people('biw-engineer', 8, 'body-in-white', 'GOING_CONCERN'),
  ...people('chassis-engineer', 6, 'chassis', 'GOING_CONCERN'),
  ...people('analyst', 4, 'simulation', 'GOING_CONCERN'),
  ...people('twin-engineer', 4, 'digital-twin-pilot', 'CHANGE'),
  { name: 'planning-agent', kind: 'AGENT', team: 'production-planning', orgUnitKind: 'GOING_CONCERN' },
  { name: 'procurement-agent', kind: 'AGENT', team: 'procurement', orgUnitKind: 'GOING_CONCERN' },
  { name: 'quote-agent', kind: 'AGENT', team: 'quotation', orgUnitKind: 'GOING_CONCERN' },
  { name: 'twin-agent', kind: 'AGENT', team: 'digital-twin-pilot', orgUnitKind: 'CHANGE' },
  { name: 'genai-lab-agent', kind: 'AGENT', team: 'ai-programme', orgUnitKind: 'CHANGE' },
  { name: 'finance-viewer', kind: 'USER', team: 'finance', orgUnitKind: 'GOING_CONCERN' },
];

/** Per million tokens, in the organization's currency (list prices of the kind providers publish). */
export const DEMO_MODEL_PRICES = [
  { provider: 'anthropic', model: 'claude-sonnet-4', inputPerMillion: 3, outputPerMillion: 15, cachedInputPerMillion: 0.3 },
  { provider: 'anthropic', model: 'claude-opus-4', inputPerMillion: 15, outputPerMillion: 75, cachedInputPerMillion: 1.5 },
  { provider: 'openai', model: 'gpt-4.1', inputPerMillion: 2, outputPerMillion: 8, cachedInputPerMillion: 0.5 },
  { provider: 'openai', model: 'gpt-4.1-mini', inputPerMillion: 0.4, outputPerMillion: 1.6, cachedInputPerMillion: 0.1 },
  { provider: 'self-hosted', model: 'llama-3.1-70b', inputPerMillion: 0.2, outputPerMillion: 0.2 },
];

const model = (provider: string, name: string) => ({ provider, model: name });

export const DEMO_PROCESSES: Record<string, DemoProcess> = {
  'design-change': {
    name: 'design-change',
    orgUnitKind: 'GOING_CONCERN',
    model: model('openai', 'gpt-4.1-mini'),
    calls: [0, 3],
    accepted: 0.7,
    rejected: 0.15,
    value: { dimension: 'QUALITY', min: 500, max: 5000 },
  },
  'crash-simulation': {
    name: 'crash-simulation',
    orgUnitKind: 'GOING_CONCERN',
    model: model('openai', 'gpt-4.1-mini'),
    calls: [0, 2],
    accepted: 0.75,
    rejected: 0.1,
    value: { dimension: 'LOSS_AVOIDED', min: 2000, max: 30000 },
  },
  'production-scheduling': {
    name: 'production-scheduling',
    orgUnitKind: 'GOING_CONCERN',
    model: model('anthropic', 'claude-sonnet-4'),
    calls: [4, 10],
    accepted: 0.8,
    rejected: 0.1,
    value: { dimension: 'THROUGHPUT', min: 200, max: 2000 },
  },
  purchasing: {
    name: 'purchasing',
    orgUnitKind: 'GOING_CONCERN',
    model: model('openai', 'gpt-4.1-mini'),
    calls: [2, 6],
    accepted: 0.85,
    rejected: 0.05,
    value: { dimension: 'MARGIN', min: 50, max: 500 },
  },
  'sheet-metal-quoting': {
    name: 'sheet-metal-quoting',
    orgUnitKind: 'GOING_CONCERN',
    model: model('anthropic', 'claude-sonnet-4'),
    calls: [3, 8],
    accepted: 0.6,
    rejected: 0.25,
    value: { dimension: 'REVENUE', min: 1000, max: 20000 },
  },
  'digital-twin-pilot': {
    name: 'digital-twin-pilot',
    orgUnitKind: 'CHANGE',
    model: model('openai', 'gpt-4.1'),
    calls: [8, 20],
    accepted: 0.4,
    rejected: 0.3,
    value: { dimension: 'STRATEGIC', min: 0, max: 0 },
  },
  'genai-lab': {
    name: 'genai-lab',
    orgUnitKind: 'CHANGE',
    model: model('anthropic', 'claude-opus-4'),
    calls: [10, 30],
    accepted: 0.3,
    rejected: 0.4,
    value: null,
  },
};
