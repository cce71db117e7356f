import { csvVerbatim, csvText } from './csv';
import type { FocusPeriods } from './utc-days';

/** FOCUS 1.2: the mandatory columns in the specification's order, then conditional ones, then x_ extensions. */
export const FOCUS_COLUMNS = [
  'BilledCost',
  'BillingAccountId',
  'BillingAccountName',
  'BillingCurrency',
  'BillingPeriodEnd',
  'BillingPeriodStart',
  'ChargeCategory',
  'ChargeClass',
  'ChargeDescription',
  'ChargePeriodEnd',
  'ChargePeriodStart',
  'ContractedCost',
  'EffectiveCost',
  'InvoiceIssuerName',
  'ListCost',
  'PricingQuantity',
  'PricingUnit',
  'ProviderName',
  'PublisherName',
  'ServiceCategory',
  'ServiceName',
  'ConsumedQuantity',
  'ConsumedUnit',
  'SkuId',
  'ResourceId',
  'Tags',
  'x_Meter',
  'x_WorkUnitId',
  'x_WorkUnitExternalRef',
  'x_PoolId',
  'x_PoolName',
  'x_AppId',
  'x_AppKey',
  'x_Provider',
  'x_Model',
  'x_InputTokens',
  'x_CachedInputTokens',
  'x_OutputTokens',
  'x_ReasoningTokens',
  'x_CreditHours',
  'x_IdleCreditHours',
  'x_CorrectionCost',
  'x_LedgerEntries',
] as const;

/** What FOCUS_SQL returns per row, in this order: each group's own values, nothing FOCUS repeats. */
export const FOCUS_SQL_COLUMNS = [
  'meter',
  'work_unit_id',
  'external_ref',
  'tags',
  'pool_id',
  'pool_name',
  'app_id',
  'app_key',
  'app_name',
  'provider',
  'model',
  'cost',
  'correction_cost',
  'credit_hours',
  'idle_credit_hours',
  'input_tokens',
  'cached_input_tokens',
  'output_tokens',
  'reasoning_tokens',
  'tokens',
  'entries',
] as const;

/** The organization billed: BillingAccountId, BillingAccountName, BillingCurrency, and InvoiceIssuerName of license rows. */
export interface FocusAccount {
  id: string;
  name: string;
  currency: string;
}

type Row = readonly (string | null)[];

// SQL's `a || b`: null when either is.
const join = (...parts: (string | null)[]) => (parts.includes(null) ? null : parts.join(''));

/**
 * Writes the FOCUS CSV record of one group (a FOCUS_SQL row) on the day of `periods`. The
 * query returns each value once; the columns FOCUS repeats (four costs, two quantities and
 * units), the account and the day's periods are filled in here, the constant ones escaped
 * once per day. Compute groups are priced in Tokens (input + output), license groups in
 * Credit-Hours; a license group names its app, or the app's id if the app is gone.
 */
export function focusRowWriter(account: FocusAccount, periods: FocusPeriods): (row: Row) => string {
  const billing = `${csvText(account.id)},${csvText(account.name)},${csvText(account.currency)},${periods.billingPeriodEnd},${periods.billingPeriodStart},Usage,`;
  const charge = `${periods.chargePeriodEnd},${periods.chargePeriodStart}`;
  const issuer = csvText(account.name);
  return (r) => {
    const meter = r[0],
      unitId = r[1],
      ref = r[2],
      tags = r[3],
      poolId = r[4],
      poolName = r[5];
    const appId = r[6],
      appKey = r[7],
      appName = r[8],
      provider = r[9],
      model = r[10];
    const cost = csvVerbatim(r[11]);
    const compute = meter === 'COMPUTE';
    const app = appName ?? appId;
    const quantity = csvVerbatim(compute ? r[19] : r[13]);
    const unit = compute ? 'Tokens' : 'Credit-Hours';
    const what = compute ? join(provider, ' ', model, ' tokens') : join(app, ' credit-hours in pool ', poolName ?? poolId);
    const description = join(what, ref === null ? ' on no work unit' : ` for work unit ${ref}`);
    return (
      `${cost},${billing},${csvText(description)},${charge},${cost},${cost},${compute ? csvText(provider) : issuer},${cost},` +
      `${quantity},${unit},${compute ? csvText(provider) : 'tokenpool'},${csvText(compute ? provider : app)},` +
      `${compute ? 'AI and Machine Learning' : 'Other'},${csvText(compute ? model : app)},${quantity},${unit},` +
      `${csvText(compute ? join(provider, '/', model) : appKey)},${csvVerbatim(unitId)},${csvText(tags ?? '{}')},` +
      `${meter},${csvVerbatim(unitId)},${csvText(ref)},${csvVerbatim(poolId)},${csvText(poolName)},${csvVerbatim(appId)},${csvText(appKey)},` +
      `${csvText(provider)},${csvText(model)},${csvVerbatim(r[15])},${csvVerbatim(r[16])},${csvVerbatim(r[17])},${csvVerbatim(r[18])},` +
      `${csvVerbatim(r[13])},${csvVerbatim(r[14])},${csvVerbatim(r[12])},${csvVerbatim(r[20])}\r\n`
    );
  };
}
