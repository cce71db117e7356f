import { AppError } from '../common/errors/app-error';
import { requireWindow } from '../common/validation/validate';

/** The longest window a report may span: a year and a bit, so year-on-year fits. */
export const MAX_REPORT_DAYS = 400;

export interface ReportWindow {
  from: number;
  to: number;
  /** min(to, now): time after now has not happened and is not measured. */
  end: number;
  now: number;
}

/** Checks a report's [from, to) and clips it to now. */
export function reportWindow(from: Date, to: Date, now = Date.now()): ReportWindow {
  requireWindow(from, to, { maxDays: MAX_REPORT_DAYS });
  if (from.getTime() >= now) throw AppError.badInput('from', 'from must be in the past: a report covers what has happened');
  return { from: from.getTime(), to: to.getTime(), end: Math.min(to.getTime(), now), now };
}
