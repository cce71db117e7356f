import { FOCUS_COLUMNS, focusRowWriter } from './focus-row';
import { focusPeriods } from './utc-days';

const account = { id: 'org-1', name: 'Acme, Inc.', currency: 'EUR' };
const write = focusRowWriter(account, focusPeriods(new Date('2026-11-02T00:00:00Z')));

/** The written record (one line, RFC 4180) as FOCUS column → cell. */
function cells(line: string): Record<string, string> {
  const values: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length - 2; i++) {
    const c = line[i];
    if (quoted && c === '"' && line[i + 1] === '"') {
      field += '"';
      i++;
    } else if (c === '"') {
      quoted = !quoted;
    } else if (c === ',' && !quoted) {
      values.push(field);
      field = '';
    } else {
      field += c;
    }
  }
  values.push(field);
  expect(values).toHaveLength(FOCUS_COLUMNS.length);
  return Object.fromEntries(FOCUS_COLUMNS.map((c, i) => [c, values[i]]));
}

describe('focusRowWriter', () => {
  it('writes a compute group in Tokens, its cost in all four cost columns', () => {
    const line = write([
      'COMPUTE',
      'wu-1',
      'claim-7',
      '{"tokenpool/work_unit":"claim-7"}',
      null,
      null,
      null,
      null,
      null,
      'openai',
      'gpt-4.1',
      '2.75',
      '2',
      '0',
      '0',
      '1003000',
      '10',
      '600',
      '5',
      '1003600',
      '4',
    ]);
    expect(line.endsWith('\r\n')).toBe(true);
    expect(cells(line)).toEqual({
      BilledCost: '2.75',
      BillingAccountId: 'org-1',
      BillingAccountName: 'Acme, Inc.',
      BillingCurrency: 'EUR',
      BillingPeriodEnd: '2026-12-01T00:00:00Z',
      BillingPeriodStart: '2026-11-01T00:00:00Z',
      ChargeCategory: 'Usage',
      ChargeClass: '',
      ChargeDescription: 'openai gpt-4.1 tokens for work unit claim-7',
      ChargePeriodEnd: '2026-11-03T00:00:00Z',
      ChargePeriodStart: '2026-11-02T00:00:00Z',
      ContractedCost: '2.75',
      EffectiveCost: '2.75',
      InvoiceIssuerName: 'openai',
      ListCost: '2.75',
      PricingQuantity: '1003600',
      PricingUnit: 'Tokens',
      ProviderName: 'openai',
      PublisherName: 'openai',
      ServiceCategory: 'AI and Machine Learning',
      ServiceName: 'gpt-4.1',
      ConsumedQuantity: '1003600',
      ConsumedUnit: 'Tokens',
      SkuId: 'openai/gpt-4.1',
      ResourceId: 'wu-1',
      Tags: '{"tokenpool/work_unit":"claim-7"}',
      x_Meter: 'COMPUTE',
      x_WorkUnitId: 'wu-1',
      x_WorkUnitExternalRef: 'claim-7',
      x_PoolId: '',
      x_PoolName: '',
      x_AppId: '',
      x_AppKey: '',
      x_Provider: 'openai',
      x_Model: 'gpt-4.1',
      x_InputTokens: '1003000',
      x_CachedInputTokens: '10',
      x_OutputTokens: '600',
      x_ReasoningTokens: '5',
      x_CreditHours: '0',
      x_IdleCreditHours: '0',
      x_CorrectionCost: '2',
      x_LedgerEntries: '4',
    });
  });

  it('writes a license group in Credit-Hours, issued by the organization, on no work unit', () => {
    const c = cells(
      write(['LICENSE', null, null, null, 'pool-1', 'CAE', 'app-1', 'cad', 'CAD', null, null, '63', '0', '42', '10.5', '0', '0', '0', '0', '0', '1']),
    );
    expect(c).toMatchObject({
      BilledCost: '63',
      ChargeDescription: 'CAD credit-hours in pool CAE on no work unit',
      InvoiceIssuerName: 'Acme, Inc.',
      PricingQuantity: '42',
      PricingUnit: 'Credit-Hours',
      ProviderName: 'tokenpool',
      PublisherName: 'CAD',
      ServiceCategory: 'Other',
      ServiceName: 'CAD',
      SkuId: 'cad',
      ResourceId: '',
      Tags: '{}',
      x_CreditHours: '42',
      x_IdleCreditHours: '10.5',
      x_AppKey: 'cad',
      x_PoolName: 'CAE',
    });
  });

  it('names a deleted app and pool by their ids, and neutralises text that would run as a formula', () => {
    const c = cells(
      write(['LICENSE', 'wu-2', '=cmd()', '{}', 'pool-9', null, 'app-9', null, null, null, null, '-1.5', '0', '1', '0', '0', '0', '0', '0', '0', '1']),
    );
    expect(c).toMatchObject({
      BilledCost: '-1.5',
      ChargeDescription: 'app-9 credit-hours in pool pool-9 for work unit =cmd()',
      PublisherName: 'app-9',
      SkuId: '',
      x_WorkUnitExternalRef: "'=cmd()",
    });
  });
});
