const DAY_MS = 86_400_000;

/** The UTC days a window [from, to) touches, each clipped to the window, in order. */
export function utcDays(from: Date, to: Date): { from: Date; to: Date }[] {
  const days: { from: Date; to: Date }[] = [];
  for (let start = from.getTime(); start < to.getTime();) {
    const end = Math.min((Math.floor(start / DAY_MS) + 1) * DAY_MS, to.getTime());
    days.push({ from: new Date(start), to: new Date(end) });
    start = end;
  }
  return days;
}

/** FOCUS's periods of a charge on the UTC day starting at `day`, as ISO 8601 to the second. */
export interface FocusPeriods {
  billingPeriodStart: string;
  billingPeriodEnd: string;
  chargePeriodStart: string;
  chargePeriodEnd: string;
}

export function focusPeriods(day: Date): FocusPeriods {
  const start = Math.floor(day.getTime() / DAY_MS) * DAY_MS;
  const month = new Date(start);
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    billingPeriodStart: iso(Date.UTC(month.getUTCFullYear(), month.getUTCMonth(), 1)),
    billingPeriodEnd: iso(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1)),
    chargePeriodStart: iso(start),
    chargePeriodEnd: iso(start + DAY_MS),
  };
}
