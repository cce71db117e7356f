import { AuditLineCounter, renderLedgerVerify } from '../src/commands/ledger';
import { ExitCode } from '../src/exit-codes';
import { run, TOP_HELP } from '../src/main';
import type { Io } from '../src/command';

/** An Io that keeps what is written, with no server and no key in its environment. */
function captureIo(): Io & { stderrText(): string } {
  let out = '';
  let err = '';
  const stream = (append: (text: string) => void) => ({ write: (text: string) => (append(String(text)), true) }) as unknown as NodeJS.WriteStream;
  return {
    stdout: stream((t) => (out += t)),
    stderr: stream((t) => (err += t)),
    env: { TOKENPOOL_URL: 'http://127.0.0.1:9' },
    stderrText: () => `${out}${err}`,
  };
}

/** `tokenpool ledger` without a server: the counting of an export as it streams, the output, the help and the usage errors. */
describe('tokenpool ledger (no server)', () => {
  it('counts seal and row lines however the bytes are cut, and tells a cut-off export', () => {
    const text = '{"seal":1,"rows":2}\n{"id":"1","note":"Zürich"}\n{"id":"2"}\n{"seal":2,"rows":1}\n{"id":"3"}\n';
    const bytes = Buffer.from(text, 'utf8');
    for (const size of [1, 3, 8, bytes.length]) {
      const counter = new AuditLineCounter();
      for (let i = 0; i < bytes.length; i += size) counter.push(bytes.subarray(i, i + size));
      expect([counter.seals, counter.rows, counter.complete]).toEqual([2, 3, true]);
    }
    const cut = new AuditLineCounter();
    cut.push(bytes.subarray(0, bytes.length - 3));
    expect(cut.complete).toBe(false);
  });

  it('prints the counts when every digest matches, and the broken seal and its reason otherwise', () => {
    expect(renderLedgerVerify({ ok: true, seals: 2, rows: 5, firstBrokenSeal: null, reason: null, line: null, message: null })).toBe(
      '2 seals, 5 rows: every digest matches',
    );
    const broken = renderLedgerVerify({ ok: false, seals: 2, rows: 3, firstBrokenSeal: 2, reason: 'ROWS_ADDED', line: 4, message: 'seal 2: 2 rows follow it' });
    expect(broken.split('\n')[0]).toBe('seal 2 is broken: ROWS_ADDED (line 4)');
  });

  it('lists both commands and exit code 65 in the top help', () => {
    expect(ExitCode.DATA_ERROR).toBe(65);
    for (const name of ['ledger export', 'ledger verify']) expect(TOP_HELP).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    expect(TOP_HELP).toContain('65 data error');
  });

  it('answers usage errors with exit 1 before any call', async () => {
    const io = captureIo();
    expect(await run(['ledger', 'export'], io)).toBe(ExitCode.USAGE);
    expect(io.stderrText()).toContain('missing --out');
    const io2 = captureIo();
    expect(await run(['ledger', 'export', '--out', 'x', '--from-sequence', 'two'], io2)).toBe(ExitCode.USAGE);
    expect(io2.stderrText()).toContain('--from-sequence must be a whole number');
    const io3 = captureIo();
    expect(await run(['ledger', 'audit'], io3)).toBe(ExitCode.USAGE);
    expect(io3.stderrText()).toContain('did you mean `tokenpool ledger export`');
  });
});
