const DAY_MS = 86_400_000;

/** The UTC days a window [from, to) touches, each clipped to the window, in order. */
export function utcDays(from: Date, to: Date): { from: Date; to: Date }[] {
  const days: { from: Date; to: Date }[] = [];
  for (let start = from.getTime(); start < to.getTime(); ) {
    const end = Math.min((Math.floor(start / DAY_MS) + 1) * DAY_MS, to.getTime());
    days.push({ from: new Date(start), to: new Date(end) });
    start = end;
  }
  return days;
}
