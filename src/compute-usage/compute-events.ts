import * as crypto from 'node:crypto';
import { AppError } from '../common/errors/app-error';
import type { AppConfig } from '../config/env';
import type { ComputeRow } from '../ledger/compute-ledger-writer';

/** A compute event as a caller reports it (GraphQL input, or read from an OTLP span). */
export interface ComputeEvent {
  eventId: string;
  workUnitId?: string | null;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number | null;
  reasoningOutputTokens?: number | null;
  cost?: number | null;
  occurredAt: Date;
}

/** The limits of an event's occurredAt under the configured bounds, now. */
export function eventLimits(config: Pick<AppConfig, 'ledgerMaxFutureSeconds' | 'ledgerMaxEventAgeDays'>): EventLimits {
  return { now: Date.now(), maxFutureMs: config.ledgerMaxFutureSeconds * 1000, maxAgeMs: config.ledgerMaxEventAgeDays * 86_400_000 };
}

export interface EventLimits {
  /** The server clock, ms. */
  now: number;
  maxFutureMs: number;
  maxAgeMs: number;
}

export const MAX_TOKENS = 1_000_000_000;
export const MAX_COST = 1_000_000_000;
export const MAX_ID_LENGTH = 255;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const NOT_BLANK = /\S/;

/** A name or id the caller makes up: 1 to 255 characters, not blank, no control characters, kept as given. */
export function requireName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !NOT_BLANK.test(value)) throw AppError.badInput(field, `${field} must not be empty`);
  if (value.length > MAX_ID_LENGTH) throw AppError.badInput(field, `${field} must be at most ${MAX_ID_LENGTH} characters`);
  if (CONTROL.test(value)) throw AppError.badInput(field, `${field} must not contain control characters`);
  return value;
}

function tokens(value: unknown, field: string, options: { optional: boolean; max: number; maxName?: string }): number {
  if (value === null || value === undefined) {
    if (options.optional) return 0;
    throw AppError.badInput(field, `${field} is required`);
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    throw AppError.badInput(field, `${field} must be a whole number of at least 0, got ${String(value)}`);
  if (value > options.max) {
    throw AppError.badInput(
      field,
      options.maxName ? `${field} must not exceed ${options.maxName} (${options.max}), got ${value}` : `${field} must be at most ${options.max}, got ${value}`,
    );
  }
  return value;
}

/**
 * Checks one event and turns it into a ledger row (its work unit still to be checked
 * against the organization). Throws BAD_USER_INPUT naming `${path}.<field>`.
 */
export function prepareComputeEvent(event: ComputeEvent, path: string, limits: EventLimits): ComputeRow {
  const eventId = requireName(event.eventId, `${path}.eventId`);
  const workUnitId = event.workUnitId === null || event.workUnitId === undefined ? null : requireName(event.workUnitId, `${path}.workUnitId`);
  const provider = requireName(event.provider, `${path}.provider`);
  const model = requireName(event.model, `${path}.model`);
  const inputTokens = tokens(event.inputTokens, `${path}.inputTokens`, { optional: false, max: MAX_TOKENS });
  const outputTokens = tokens(event.outputTokens, `${path}.outputTokens`, { optional: false, max: MAX_TOKENS });
  const cachedInputTokens = tokens(event.cachedInputTokens, `${path}.cachedInputTokens`, { optional: true, max: inputTokens, maxName: 'inputTokens' });
  const reasoningTokens = tokens(event.reasoningOutputTokens, `${path}.reasoningOutputTokens`, { optional: true, max: outputTokens, maxName: 'outputTokens' });
  let cost: number | null = null;
  if (event.cost !== null && event.cost !== undefined) {
    if (typeof event.cost !== 'number' || !Number.isFinite(event.cost) || event.cost < 0 || event.cost > MAX_COST) {
      throw AppError.badInput(`${path}.cost`, `${path}.cost must be a finite number from 0 to ${MAX_COST}, got ${String(event.cost)}`);
    }
    cost = event.cost;
  }
  const at = event.occurredAt instanceof Date ? event.occurredAt.getTime() : NaN;
  if (!Number.isFinite(at)) throw AppError.badInput(`${path}.occurredAt`, `${path}.occurredAt must be an ISO 8601 date-time`);
  if (at > limits.now + limits.maxFutureMs)
    throw AppError.badInput(`${path}.occurredAt`, `${path}.occurredAt lies more than ${Math.round(limits.maxFutureMs / 1000)} s in the future`);
  if (at < limits.now - limits.maxAgeMs)
    throw AppError.badInput(`${path}.occurredAt`, `${path}.occurredAt is more than ${Math.round(limits.maxAgeMs / 86_400_000)} days old`);
  const eventKey = `compute:${eventId}`;
  return {
    eventKey,
    contentHash: contentHash([eventKey, workUnitId, provider, model, inputTokens, cachedInputTokens, outputTokens, reasoningTokens, cost, at]),
    workUnitId,
    provider,
    model,
    inputTokens,
    cachedInputTokens,
    outputTokens,
    reasoningTokens,
    cost,
    occurredAt: new Date(at),
  };
}

// crypto.hash (Node 20.12 and later) digests in one call, without a Hash object per event.
const digest: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'base64url')
    : (text) => crypto.createHash('sha256').update(text).digest('base64url');

/** A digest of everything an event says, to tell a replay from a conflicting reuse of its id. */
function contentHash(canonical: unknown[]): string {
  return digest(JSON.stringify(canonical)).slice(0, 22);
}

export interface DedupedBatch {
  /** One row per event key, the first occurrence, sorted by key (a fixed lock order for concurrent batches). */
  rows: ComputeRow[];
  duplicates: number;
  conflicts: number;
  conflictingEventKeys: string[];
}

/** Folds repeats of an event key within one batch: same content counts as a duplicate, other content as a conflict. */
export function dedupeBatch(rows: ComputeRow[]): DedupedBatch {
  const first = new Map<string, ComputeRow>();
  const result: DedupedBatch = { rows: [], duplicates: 0, conflicts: 0, conflictingEventKeys: [] };
  for (const row of rows) {
    const seen = first.get(row.eventKey);
    if (!seen) first.set(row.eventKey, row);
    else if (seen.contentHash === row.contentHash) result.duplicates += 1;
    else {
      result.conflicts += 1;
      result.conflictingEventKeys.push(row.eventKey);
    }
  }
  result.rows = [...first.values()].sort((a, b) => (a.eventKey < b.eventKey ? -1 : a.eventKey > b.eventKey ? 1 : 0));
  return result;
}
