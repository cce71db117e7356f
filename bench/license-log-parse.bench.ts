/**
 * Parse speed of the license-log parsers: a generated 1,000,000-line FlexNet debug log through parseLog (the async
 * path the import service uses) and parseLines (sync). Prints lines/s. `npm run bench:import-parse` (LINES=… to change).
 */
import { generateFlexlmLog } from '../src/license-logs/generate-flexlm';
import { parseLines, parseLog } from '../src/license-logs/log-events';

async function main(): Promise<void> {
  const n = Number(process.env.LINES ?? 1_000_000);
  const lines = [
    ...generateFlexlmLog({
      lines: n,
      features: ['cad_pro', 'cad_std', 'fea_solver', 'cfd_solver', 'viz'],
      users: 300,
      seed: 7,
      startDate: new Date('2024-03-01T08:00:00Z'),
    }),
  ];
  const timeZone = process.env.TZ_NAME ?? 'Europe/Berlin';
  for (let round = 1; round <= 2; round++) {
    let t0 = process.hrtime.bigint();
    let events = 0;
    for await (const p of parseLog('flexlm', lines, { timeZone })) if (p.event) events++;
    let s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`round ${round} parseLog (async): ${n} lines, ${events} events in ${s.toFixed(2)} s = ${Math.round(n / s).toLocaleString('en-US')} lines/s`);
    t0 = process.hrtime.bigint();
    events = 0;
    for (const p of parseLines('flexlm', lines, { timeZone })) if (p.event) events++;
    s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`round ${round} parseLines (sync): ${n} lines, ${events} events in ${s.toFixed(2)} s = ${Math.round(n / s).toLocaleString('en-US')} lines/s`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
