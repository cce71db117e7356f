/** The worker's ledger maintenance: one repeatable job keeps monthly partitions ready ahead. */
export const LEDGER_MAINTENANCE_QUEUE = 'ledger-maintenance';
export const ENSURE_LEDGER_PARTITIONS_JOB = 'ensure-ledger-partitions';
/** Every six hours: a month's partition is there weeks before it is needed. */
export const ENSURE_LEDGER_PARTITIONS_EVERY_MS = 6 * 3_600_000;

export type EnsureLedgerPartitionsPayload = Record<string, never>;
