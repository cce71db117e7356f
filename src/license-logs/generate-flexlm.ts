/**
 * A realistic FlexNet debug log, for benchmarks and tests: the lmgrd banner and start lines, the vendor daemon's
 * start, then OUT/IN pairs (some with `(n licenses)`, some checked in `(INACTIVE)`), DENIED and UNSUPPORTED lines
 * with their reasons, lmgrd and vendor TIMESTAMP lines every 6 hours, a few SLOG lines, and midnight passing without
 * a TIMESTAMP. Deterministic for a seed. Hours below 10 have the leading space real logs have.
 */
export interface GenerateFlexlmOptions {
  /** Exactly this many lines. */
  lines: number;
  features: string[];
  /** Number of distinct users (user001@ws-001 …). */
  users: number;
  seed: number;
  /** The log's first local date and time (its UTC fields are used as the wall clock). */
  startDate: Date;
  /** Vendor daemon name; default 'demovd'. */
  vendor?: string;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

export function* generateFlexlmLog(options: GenerateFlexlmOptions): Generator<string> {
  const { lines, features, users, seed, startDate } = options;
  const vendor = options.vendor ?? 'demovd';
  if (features.length === 0) throw new Error('generateFlexlmLog: at least one feature');
  const rnd = mulberry32(seed);
  let t = Math.floor(startDate.getTime() / 1000) * 1000;
  let emitted = 0;
  const clock = () => {
    const d = new Date(t);
    const h = d.getUTCHours();
    return `${h < 10 ? ' ' : ''}${h}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  };
  const mdy = () => {
    const d = new Date(t);
    return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`;
  };
  const banner = [
    `(lmgrd) -----------------------------------------------`,
    `(lmgrd)   Please Note:`,
    `(lmgrd) `,
    `(lmgrd)   This log is intended for debug purposes only.`,
    `(lmgrd) -----------------------------------------------`,
    `(lmgrd) Server's System Date and Time: ${new Date(t).toUTCString().slice(0, 3)} ${new Date(t).toUTCString().slice(8, 11)} ${pad2(new Date(t).getUTCDate())} ${new Date(t).getUTCFullYear()} ${pad2(new Date(t).getUTCHours())}:${pad2(new Date(t).getUTCMinutes())}:${pad2(new Date(t).getUTCSeconds())} UTC`,
    `(lmgrd) pid 4242`,
    `(lmgrd) SLOG: Summary LOG statistics is enabled.`,
    `(lmgrd) FlexNet Licensing (v11.19.6.0 build 293152 x64_lsb) started on licsrv01 (linux) (${mdy()})`,
    `(lmgrd) Copyright (c) 1988-2024 Flexera. All Rights Reserved.`,
    `(lmgrd) License file(s): /opt/flexlm/licenses/license.dat`,
    `(lmgrd) lmgrd tcp-port 27000`,
    `(lmgrd) Starting vendor daemons ... `,
    `(lmgrd) Started ${vendor} (pid 4243)`,
    `(${vendor}) FlexNet Licensing version v11.19.6.0 build 293152 x64_lsb`,
    `(${vendor}) Server started on licsrv01 for:\t${features.slice(0, 4).join(' ')}`,
    `(${vendor}) EXTERNAL FILTERS are OFF`,
    `(lmgrd) ${vendor} using TCP-port 40123`,
  ];
  for (const b of banner) {
    if (emitted >= lines) return;
    yield `${clock()} ${b}`;
    emitted++;
  }
  const held: { feature: string; user: string; count: number }[] = [];
  const maxHeld = Math.max(4, Math.floor(users * 0.6));
  let nextStamp = t + 6 * 3_600_000;
  let nextVendorStamp = t + 6 * 3_600_000 + 5 * 60_000;
  const who = () => {
    const u = 1 + Math.floor(rnd() * users);
    const n = u < 1000 ? `00${u}`.slice(-3) : String(u);
    return `user${n}@ws-${n}`;
  };
  while (emitted < lines) {
    t += Math.floor(rnd() * 90) * 1000; // 0–89 s apart; several lines often share a second
    let line: string;
    if (t >= nextStamp) {
      line = `${clock()} (lmgrd) TIMESTAMP ${mdy()}`;
      nextStamp += 6 * 3_600_000;
    } else if (t >= nextVendorStamp) {
      line = `${clock()} (${vendor}) TIMESTAMP ${mdy()}`;
      nextVendorStamp += 6 * 3_600_000;
    } else {
      const r = rnd();
      if (r < 0.005) {
        line = `${clock()} (${vendor}) SLOG: Statistics Log Frequency is 240 minute(s).`;
      } else if (r < 0.045) {
        const feature = features[Math.floor(rnd() * features.length)];
        line = `${clock()} (${vendor}) DENIED: "${feature}" ${who()}  (Licensed number of users already reached. (-4,342))`;
      } else if (r < 0.05) {
        line = `${clock()} (${vendor}) UNSUPPORTED: "${features[0]}_pro" (PORT_AT_HOST_PLUS   ) ${who()}  (License server system does not support this feature. (-18,327))`;
      } else if (held.length > 0 && (held.length >= maxHeld || r < 0.5)) {
        const k = Math.floor(rnd() * held.length);
        const h = held[k];
        held[k] = held[held.length - 1];
        held.pop();
        const counted = h.count > 1 ? ` (${h.count} licenses)` : '';
        const inactive = rnd() < 0.05 ? ' (INACTIVE)' : '';
        line = `${clock()} (${vendor}) IN: "${h.feature}" ${h.user} ${counted}${inactive}`.trimEnd();
      } else {
        const feature = features[Math.floor(rnd() * features.length)];
        const user = who();
        const count = rnd() < 0.1 ? 2 + Math.floor(rnd() * 7) : 1;
        held.push({ feature, user, count });
        line = `${clock()} (${vendor}) OUT: "${feature}" ${user} ${count > 1 ? ` (${count} licenses)` : ''}`.trimEnd();
      }
    }
    yield line;
    emitted++;
  }
}
