/**
 * @tokenpool/client: the TypeScript client for tokenpool. Check license credits out and in
 * with automatic, batched heartbeats; hear a revocation through an AbortSignal; record
 * compute usage and outcomes; verify lease proofs offline; watch pools live.
 */
export { TokenpoolClient } from './client';
export type {
  App,
  BorrowedLease,
  BorrowOptions,
  BudgetedResult,
  BudgetUsage,
  CallOptions,
  CheckoutOptions,
  ClientVerifyProofOptions,
  ComputeBudget,
  ComputeReservation,
  ComputeUsageResult,
  CurrentKey,
  LeaseSummary,
  LedgerAuditOptions,
  LeasesFilter,
  Pool,
  Quote,
  ReserveComputeOptions,
  ReturnedLease,
  TokenpoolClientOptions,
  WatchOptions,
  WorkUnit,
} from './client';
export { TokenpoolError } from './errors';
export type { TokenpoolErrorCode } from './errors';
export { Lease } from './lease';
export { linesOf, verifyLedgerAudit } from './ledger-audit';
export type { LedgerAuditReason, LedgerAuditResult } from './ledger-audit';
export type { LeaseListener } from './lease';
export { LICENSE_LOG_FORMATS } from './license-log-import';
export type { ImportLicenseLogOptions, LicenseLogBody, LicenseLogFormat, LicenseLogImportSummary } from './license-log-import';
export { assertNotRevoked, fetchJwks, fetchRevocationList, PROOF_TYPE, REVOCATION_LIST_TYPE, verifyProofOffline, verifyRevocationList } from './proofs';
export type { JSONWebKeySet, OfflineVerifyOptions, ProofClaims, RevocationList, RevocationListClaims, RevokedLease, VerifyProofOptions } from './proofs';
export type { FetchLike } from './transport';
export type { ComputeUsageEvent } from './usage-buffer';
export { backoffDelay, isRetryable } from './retry';
export type {
  BorrowInput,
  BudgetPeriod,
  BudgetScope,
  CheckoutInput,
  ComputeUsageInput,
  CreateAppInput,
  CreatePoolInput,
  LeaseState,
  OutcomeInput,
  OutcomeStatus,
  ReservationState,
  ReserveComputeInput,
  Role,
  WorkUnitInput,
} from './generated/graphql';
