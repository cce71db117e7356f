import { AppError } from '../errors/app-error';

/**
 * Argument checks shared by every service. Each names the argument's path (`input.cost`),
 * so a refused request tells the caller exactly what to fix.
 */

// Printable characters, no control characters (tabs and newlines included).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function requireText(value: string, field: string, options: { max: number; min?: number }): string {
  const trimmed = value.trim();
  const min = options.min ?? 1;
  if (trimmed.length < min) throw AppError.badInput(field, `${field} must not be empty`);
  if (trimmed.length > options.max) throw AppError.badInput(field, `${field} must be at most ${options.max} characters`);
  if (CONTROL.test(trimmed)) throw AppError.badInput(field, `${field} must not contain control characters`);
  return trimmed;
}

export function optionalText(value: string | null | undefined, field: string, options: { max: number }): string | null {
  if (value === undefined || value === null) return null;
  return requireText(value, field, options);
}

export function requireInt(value: number, field: string, options: { min: number; max: number }): number {
  if (!Number.isInteger(value) || value < options.min || value > options.max) {
    throw AppError.badInput(field, `${field} must be a whole number from ${options.min} to ${options.max}, got ${value}`);
  }
  return value;
}

export function requireNumber(value: number, field: string, options: { min: number; max: number }): number {
  if (!Number.isFinite(value) || value < options.min || value > options.max) {
    throw AppError.badInput(field, `${field} must be a number from ${options.min} to ${options.max}, got ${value}`);
  }
  return value;
}

/** ASCII 0x21..0x7e: keys callers make up themselves (idempotency keys, external ids). */
export function requirePrintableAscii(value: string, field: string, max: number): string {
  if (value.length === 0 || value.length > max || !/^[\x21-\x7e]+$/.test(value)) {
    throw AppError.badInput(field, `${field} must be 1 to ${max} printable ASCII characters without spaces`);
  }
  return value;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether an id can name a row at all; malformed ids are simply not found. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

export function requireValidDate(value: Date, field: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw AppError.badInput(field, `${field} must be an ISO 8601 date-time`);
  return value;
}

export function requireWindow(from: Date, to: Date, options: { maxDays: number }): void {
  requireValidDate(from, 'from');
  requireValidDate(to, 'to');
  if (to.getTime() <= from.getTime()) throw AppError.badInput('to', 'to must be after from');
  if (to.getTime() - from.getTime() > options.maxDays * 86_400_000) {
    throw AppError.badInput('to', `The window may span at most ${options.maxDays} days`);
  }
}

/** The largest `first` any list accepts (the cost estimate assumes it where it cannot see the value). */
export const MAX_PAGE_SIZE = 100;

/** `first` for list queries: default 50, at most 100, as the contract says. */
export function pageSize(first: number | null | undefined, field = 'first'): number {
  if (first === undefined || first === null) return 50;
  return requireInt(first, field, { min: 1, max: MAX_PAGE_SIZE });
}
