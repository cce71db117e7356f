/** The worker's periodic usage rollup: one repeatable job brings every pool's rollups up to date. */
export const REPORTS_QUEUE = 'reports';
export const ROLLUP_USAGE_JOB = 'rollup-usage';

export type RollupUsagePayload = Record<string, never>;
