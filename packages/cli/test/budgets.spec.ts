import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, parse, validate } from 'graphql';
import { BUDGETS_QUERY, budgetsShape, buildBudgets, periodLabel, renderBudgets, scopeLabel, type BudgetsAnswer } from '../src/commands/budgets';
import { money, percent } from '../src/format';

/** `tokenpool budgets` without a server: its query against the committed schema, its figures and its table. */

const answer: BudgetsAnswer = {
  me: { organization: { currency: 'EUR' } },
  computeBudgets: [
    {
      id: 'b1',
      name: 'org, monthly',
      scope: 'ORGANIZATION',
      team: null,
      period: 'MONTH',
      limit: 1000,
      spent: 37.123456,
      reserved: 0.0465,
      remaining: 962.830044,
      periodStart: '2026-12-01T00:00:00Z',
      principal: null,
      workUnit: null,
    },
    {
      id: 'b2',
      name: 'research, daily',
      scope: 'TEAM',
      team: 'research',
      period: 'DAY',
      limit: 50,
      spent: 51,
      reserved: 0,
      remaining: 0,
      periodStart: '2026-12-07T00:00:00.000Z',
      principal: null,
      workUnit: null,
    },
    {
      id: 'b3',
      name: 'alice',
      scope: 'PRINCIPAL',
      team: null,
      period: 'TOTAL',
      limit: 0,
      spent: 0,
      reserved: 0.00001,
      remaining: 0,
      periodStart: null,
      principal: { name: 'alice' },
      workUnit: null,
    },
    {
      id: 'b4',
      name: 'ticket',
      scope: 'WORK_UNIT',
      team: null,
      period: 'TOTAL',
      limit: 2,
      spent: 0,
      reserved: 0,
      remaining: 2,
      periodStart: null,
      principal: null,
      workUnit: { externalRef: 'ticket-4711' },
    },
  ],
};

describe('tokenpool budgets', () => {
  it('asks only for what the committed schema has', () => {
    const schema = buildSchema(readFileSync(join(__dirname, '..', '..', '..', 'schema.gql'), 'utf8'));
    expect(validate(schema, parse(BUDGETS_QUERY))).toEqual([]);
  });

  it('formats money to at most 4 decimals and never shows a held amount as 0', () => {
    expect(money(0)).toBe('0.00');
    expect(money(50)).toBe('50.00');
    expect(money(1000)).toBe('1,000.00');
    expect(money(0.0465)).toBe('0.0465');
    expect(money(0.035781)).toBe('0.0358');
    expect(money(1.25)).toBe('1.25');
    expect(money(0.00001)).toBe('<0.0001');
    expect(percent(0)).toBe('0.0%');
    expect(percent(0.01)).toBe('<0.1%');
    expect(percent(2.593)).toBe('2.6%');
    expect(percent(104.2)).toBe('104.2%');
  });

  it('builds the JSON document: names for principal and work unit, UTC period starts, percent used', () => {
    const doc = buildBudgets(answer, new Date('2026-12-07T14:30:00Z'));
    expect(doc.generatedAt).toBe('2026-12-07T14:30:00.000Z');
    expect(doc.currency).toBe('EUR');
    expect(doc.budgets[0]).toEqual({
      id: 'b1',
      name: 'org, monthly',
      scope: 'ORGANIZATION',
      team: null,
      principal: null,
      workUnit: null,
      period: 'MONTH',
      periodStart: '2026-12-01T00:00:00.000Z',
      limit: 1000,
      spent: 37.123456,
      reserved: 0.0465,
      remaining: 962.830044,
      percentUsed: 3.72,
    });
    expect(doc.budgets[1].percentUsed).toBe(102);
    expect(doc.budgets[2]).toMatchObject({ principal: 'alice', percentUsed: null });
    expect(doc.budgets[3]).toMatchObject({ workUnit: 'ticket-4711', percentUsed: 0 });
    expect(doc.budgets.map(scopeLabel)).toEqual(['Organization', 'Team: research', 'Principal: alice', 'Work unit: ticket-4711']);
    expect(doc.budgets.map(periodLabel)).toEqual(['MONTH 2026-12-01', 'DAY 2026-12-07', 'TOTAL', 'TOTAL']);
  });

  it('renders a table with right-aligned amounts, and one line for no budgets', () => {
    const doc = buildBudgets(answer, new Date('2026-12-07T14:30:00Z'));
    const lines = renderBudgets(doc).split('\n');
    expect(lines[0]).toMatch(/^4 compute budgets, amounts in EUR, DAY and MONTH periods in UTC; read 2026-12-0\d \d\d:\d\d:00$/);
    expect(lines[1]).toBe('');
    expect(lines.slice(2)).toEqual([
      'NAME             SCOPE                   PERIOD               LIMIT    SPENT  RESERVED  REMAINING    USED  BUDGET',
      'org, monthly     Organization            MONTH 2026-12-01  1,000.00  37.1235    0.0465     962.83    3.7%  b1',
      'research, daily  Team: research          DAY 2026-12-07       50.00    51.00      0.00       0.00  102.0%  b2',
      'alice            Principal: alice        TOTAL                 0.00     0.00   <0.0001       0.00       -  b3',
      'ticket           Work unit: ticket-4711  TOTAL                 2.00     0.00      0.00       2.00    0.0%  b4',
    ]);
    expect(renderBudgets({ ...doc, budgets: [] })).toBe('No compute budgets.');
  });

  it('compares watch snapshots without their read time', () => {
    const a = buildBudgets(answer, new Date('2026-12-07T14:30:00Z'));
    const b = buildBudgets(answer, new Date('2026-12-07T14:30:05Z'));
    expect(budgetsShape(a)).toBe(budgetsShape(b));
    const moved = { ...answer, computeBudgets: answer.computeBudgets.map((x, i) => (i === 3 ? { ...x, reserved: 0.5, remaining: 1.5 } : x)) };
    expect(budgetsShape(buildBudgets(moved, new Date('2026-12-07T14:30:10Z')))).not.toBe(budgetsShape(a));
  });
});
