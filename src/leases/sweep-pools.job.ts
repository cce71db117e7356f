/** The worker's periodic lease maintenance: one repeatable job sweeps every pool. */
export const LEASE_MAINTENANCE_QUEUE = 'lease-maintenance';
export const SWEEP_POOLS_JOB = 'sweep-pools';

export type SweepPoolsPayload = Record<string, never>;
