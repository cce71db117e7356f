import { DEMO_PEOPLE, DEMO_PROCESSES, DemoPerson } from './demo-catalog';
import { DemoRandom } from './demo-random';

const MIN = 60_000;
const HOUR = 3_600_000;

/** A check-out someone would have asked for: granted or denied later by the cap simulation. */
export interface DemoRequest {
  pool: 'cae' | 'agent';
  app: string;
  principal: string;
  start: number;
  durationMs: number;
  host: string | null;
  workUnit: string | null;
  /** A lunch break inside a long session, reported idle by the client. */
  idleMs: number;
  expired: boolean;
  attempt: number;
}

export interface DemoWorkUnit {
  ref: string;
  owner: DemoPerson;
  process: string;
  task: string;
  start: number;
  end: number;
}

export interface DemoDay {
  workUnits: DemoWorkUnit[];
  requests: DemoRequest[];
}

interface DayContext {
  rng: DemoRandom;
  dayStart: number;
  label: string;
  weekday: boolean;
  out: DemoDay;
}

const byTeam = (team: string) => DEMO_PEOPLE.filter((p) => p.team === team && p.kind === 'USER');
const agent = (name: string) => DEMO_PEOPLE.find((p) => p.name === name)!;

/** Office arrivals: a morning and an afternoon peak, inside 07:00-18:00 UTC. */
function officeStart(c: DayContext): number {
  const hour = c.rng.chance(0.5) ? c.rng.normal(9.5, 1) : c.rng.normal(14, 1.2);
  return c.dayStart + Math.min(18, Math.max(7, hour)) * HOUR;
}

function request(c: DayContext, r: Omit<DemoRequest, 'idleMs' | 'expired' | 'attempt' | 'host'> & { host?: string | null }): void {
  // Every lease (and its linger) ends before midnight, so each day imports on its own.
  // Whole milliseconds, as the database stores them, so the simulation and the import agree to the instant.
  const start = Math.round(r.start);
  const durationMs = Math.round(Math.max(5000, Math.min(r.durationMs, c.dayStart + 23.5 * HOUR - start)));
  const idleMs = durationMs > HOUR && c.rng.chance(0.4) ? Math.round(c.rng.between(10, 45) * MIN) : 0;
  c.out.requests.push({ ...r, start, host: r.host ?? null, durationMs, idleMs, expired: c.rng.chance(0.03), attempt: 0 });
}

function workUnit(c: DayContext, w: { prefix: string; owner: DemoPerson; process: string; task: string; start: number; end: number }): string {
  const ref = `${w.prefix}-${c.label}-${c.out.workUnits.length + 1}`;
  c.out.workUnits.push({ ref, owner: w.owner, process: w.process, task: w.task, start: w.start, end: w.end });
  return ref;
}

/** Engineers at their desks: meshing, viewing and drawing, partly on a design change of the day. */
function engineers(c: DayContext): void {
  for (const person of [...byTeam('body-in-white'), ...byTeam('chassis'), ...byTeam('digital-twin-pilot')]) {
    if (!c.rng.chance(c.weekday ? 0.9 : 0.05)) continue;
    const pilot = person.team === 'digital-twin-pilot';
    const first = officeStart(c);
    const ref = c.rng.chance(0.5)
      ? workUnit(c, {
          prefix: pilot ? 'TWIN' : 'DC',
          owner: person,
          process: pilot ? 'digital-twin-pilot' : 'design-change',
          task: pilot ? 'twin-model-update' : 'stiffness-check',
          start: first,
          end: first + 4 * HOUR,
        })
      : null;
    for (let s = c.rng.int(1, 3); s > 0; s--) {
      const app = c.rng.pick(
        pilot ? ['hypermesh', 'hyperview', 'nx-draw-shape', 'hypergraph'] : ['hypermesh', 'hypermesh', 'hyperview', 'hypergraph', 'nx-draw-shape'],
      );
      const durationMs = app === 'hypergraph' ? c.rng.between(15, 60) * MIN : c.rng.between(45, 180) * MIN;
      request(c, { pool: 'cae', app, principal: person.name, start: s === 1 ? first : officeStart(c), durationMs, host: `ws-${person.name}`, workUnit: ref });
    }
    // Algorithmic modelling was bought for the pilot and is almost never opened.
    if (pilot && c.rng.chance(0.01))
      request(c, {
        pool: 'cae',
        app: 'nx-algorithmic-modeling',
        principal: person.name,
        start: officeStart(c),
        durationMs: 40 * MIN,
        host: `ws-${person.name}`,
        workUnit: ref,
      });
  }
}

/** Analysts run solver jobs by day and the odd Nastran batch overnight. */
function analysts(c: DayContext): void {
  for (const person of byTeam('simulation')) {
    if (!c.rng.chance(c.weekday ? 0.85 : 0.1)) continue;
    const start = officeStart(c);
    const ref = workUnit(c, { prefix: 'SIM', owner: person, process: 'crash-simulation', task: 'load-case', start, end: start + 6 * HOUR });
    for (let j = c.rng.int(1, 3); j > 0; j--) {
      request(c, {
        pool: 'cae',
        app: 'optistruct-4c',
        principal: person.name,
        start: j === 1 ? start : officeStart(c),
        durationMs: c.rng.between(20, 150) * MIN,
        host: 'hpc-login-1',
        workUnit: ref,
      });
    }
    if (c.rng.chance(0.15))
      request(c, {
        pool: 'cae',
        app: 'nastran-sol101',
        principal: person.name,
        start: c.dayStart + c.rng.between(18, 20) * HOUR,
        durationMs: c.rng.between(2, 4) * HOUR,
        host: 'hpc-login-1',
        workUnit: ref,
      });
  }
}

/** An agent work unit and the tool calls it makes, one after another from `start`. */
function agentTask(c: DayContext, w: { owner: string; prefix: string; process: string; task: string; start: number; tools: [string, number, number][] }): void {
  const owner = agent(w.owner);
  let at = w.start;
  const steps = w.tools.map(([app, minS, maxS]) => {
    const step = { app, start: at, durationMs: c.rng.between(minS, maxS) * 1000 };
    at += step.durationMs + c.rng.between(5, 60) * 1000;
    return step;
  });
  const ref = workUnit(c, { prefix: w.prefix, owner, process: w.process, task: w.task, start: w.start, end: at });
  for (const s of steps) request(c, { pool: 'agent', app: s.app, principal: owner.name, start: s.start, durationMs: s.durationMs, workUnit: ref });
}

/** The nightly replanning burst at 06:00 asks for more schedule simulations than the pool holds. */
function agents(c: DayContext): void {
  for (let i = 0; i < 14; i++) {
    const start = c.dayStart + 6 * HOUR + c.rng.between(0, 90) * 1000;
    agentTask(c, {
      owner: 'planning-agent',
      prefix: 'PLAN',
      process: 'production-scheduling',
      task: 'replan-line',
      start,
      tools: [
        ['mes-query', 10, 60],
        ['schedule-sim', 180, 480],
        ['mes-query', 5, 30],
      ],
    });
  }
  const office = (n: number, fn: (start: number) => void) => {
    for (let i = 0; i < n; i++) fn(officeStart(c));
  };
  office(c.weekday ? c.rng.int(8, 15) : 0, (start) =>
    agentTask(c, {
      owner: 'procurement-agent',
      prefix: 'PO',
      process: 'purchasing',
      task: 'reorder',
      start,
      tools: [
        ['mes-query', 10, 40],
        ['create-po', 30, 120],
      ],
    }),
  );
  office(c.weekday ? c.rng.int(6, 12) : c.rng.int(0, 2), (start) =>
    agentTask(c, {
      owner: 'quote-agent',
      prefix: 'QUOTE',
      process: 'sheet-metal-quoting',
      task: 'rfq',
      start,
      tools: [
        ['quote-geometry', 60, 300],
        ['quote-geometry', 60, 300],
        ['mes-query', 5, 20],
      ],
    }),
  );
  office(c.weekday ? c.rng.int(3, 6) : 0, (start) =>
    agentTask(c, {
      owner: 'twin-agent',
      prefix: 'TWINAI',
      process: 'digital-twin-pilot',
      task: 'what-if',
      start,
      tools: [
        ['mes-query', 10, 60],
        ['schedule-sim', 120, 600],
      ],
    }),
  );
  office(c.rng.int(2, 5), (start) =>
    agentTask(c, { owner: 'genai-lab-agent', prefix: 'LAB', process: 'genai-lab', task: 'experiment', start, tools: [['mes-query', 5, 60]] }),
  );
}

/** One day's demand: who asked for which app when, and the work units it served. Pure: same seed, same day. */
export function planDay(input: { seed: number; dayIndex: number; dayStart: number }): DemoDay {
  const date = new Date(input.dayStart);
  const c: DayContext = {
    rng: new DemoRandom(input.seed * 100_003 + input.dayIndex),
    dayStart: input.dayStart,
    label: date.toISOString().slice(0, 10).replace(/-/g, ''),
    weekday: date.getUTCDay() !== 0 && date.getUTCDay() !== 6,
    out: { workUnits: [], requests: [] },
  };
  engineers(c);
  analysts(c);
  agents(c);
  return c.out;
}

export function processOf(name: string) {
  return DEMO_PROCESSES[name];
}
