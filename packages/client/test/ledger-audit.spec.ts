import { createHash } from 'node:crypto';
import { linesOf, verifyLedgerAudit } from '@tokenpool/client';

/**
 * verifyLedgerAudit on a small export built here, its digests computed with node:crypto as
 * docs/ledger-audit.md says (SHA-256 over previousDigest, then "\n" and each row line): the
 * untouched export passes, and each kind of tampering is found at the right seal with the
 * right reason.
 */

const ZERO = '0'.repeat(64);

function row(id: number, extra: Record<string, string | null> = {}): string {
  return JSON.stringify({
    id: String(id),
    organization_id: 'org-1',
    event_key: `compute:evt-${id}`,
    kind: 'COMPUTE',
    cost: '0.012500000',
    note: 'Zürich',
    ...extra,
  });
}

function digestOf(previousDigest: string, rows: string[]): string {
  const hash = createHash('sha256').update(previousDigest, 'utf8');
  for (const line of rows) hash.update('\n', 'utf8').update(line, 'utf8');
  return hash.digest('hex');
}

/** Three seals of 2, 1 and 3 rows, chained; the lines of the export (without "\n"). */
function buildExport(): string[] {
  const groups = [[row(1), row(2)], [row(3, { model: 'gpt-"quoted"' })], [row(4), row(5), row(6)]];
  const lines: string[] = [];
  let previousDigest = ZERO;
  groups.forEach((rows, i) => {
    const digest = digestOf(previousDigest, rows);
    lines.push(
      JSON.stringify({
        seal: i + 1,
        rows: rows.length,
        previousDigest,
        digest,
        firstRecordedAt: null,
        lastRecordedAt: null,
        sealedAt: '2026-12-07T09:00:00.000Z',
      }),
    );
    lines.push(...rows);
    previousDigest = digest;
  });
  return lines;
}

/** The index in `lines` of the row line with this id. */
function rowIndex(lines: string[], id: number): number {
  const index = lines.findIndex((line) => line.startsWith(`{"id":"${id}"`));
  if (index < 0) throw new Error(`no row ${id}`);
  return index;
}

async function* asAsync<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

describe('verifyLedgerAudit', () => {
  it('passes an untouched export, from an array, an async iterable or a byte stream, and counts its seals and rows', async () => {
    const lines = buildExport();
    const expected = { ok: true, seals: 3, rows: 6, firstBrokenSeal: null, reason: null };
    expect(await verifyLedgerAudit(lines)).toMatchObject(expected);
    expect(await verifyLedgerAudit(asAsync(lines.map((l) => `${l}\n`)))).toMatchObject(expected);
    // Bytes cut in the middle of lines and of the two-byte "ü": linesOf must put them back together.
    const bytes = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    const chunks = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7));
    expect(await verifyLedgerAudit(linesOf(chunks))).toMatchObject(expected);
  });

  it('passes an export that starts at a later seal, checked from its previousDigest', async () => {
    const lines = buildExport();
    expect(await verifyLedgerAudit(lines.slice(rowIndex(lines, 3) - 1))).toMatchObject({ ok: true, seals: 2, rows: 4 });
  });

  it('finds one changed character of a row: DIGEST_MISMATCH at its seal', async () => {
    const lines = buildExport();
    const i = rowIndex(lines, 4);
    lines[i] = lines[i].replace('0.012500000', '0.012500001');
    const result = await verifyLedgerAudit(lines);
    expect(result).toMatchObject({ ok: false, firstBrokenSeal: 3, reason: 'DIGEST_MISMATCH', seals: 3 });
    expect(result.message).toContain('seal 3');
  });

  it('hashes the lines as given: the same JSON with other spacing does not match', async () => {
    const lines = buildExport();
    const i = rowIndex(lines, 3);
    lines[i] = JSON.stringify(JSON.parse(lines[i]), null, 1).replace(/\n/g, '');
    expect(await verifyLedgerAudit(lines)).toMatchObject({ ok: false, firstBrokenSeal: 2, reason: 'DIGEST_MISMATCH' });
  });

  it('finds a deleted row line: ROWS_MISSING at its seal', async () => {
    const lines = buildExport();
    lines.splice(rowIndex(lines, 2), 1);
    expect(await verifyLedgerAudit(lines)).toMatchObject({ ok: false, firstBrokenSeal: 1, reason: 'ROWS_MISSING', seals: 1, rows: 1 });
  });

  it('finds an extra row line: ROWS_ADDED at its seal', async () => {
    const lines = buildExport();
    lines.splice(rowIndex(lines, 3) + 1, 0, row(99));
    expect(await verifyLedgerAudit(lines)).toMatchObject({ ok: false, firstBrokenSeal: 2, reason: 'ROWS_ADDED' });
  });

  it('finds an edited previousDigest: CHAIN_BROKEN at that seal', async () => {
    const lines = buildExport();
    const i = rowIndex(lines, 4) - 1;
    const seal = JSON.parse(lines[i]) as { previousDigest: string };
    lines[i] = lines[i].replace(seal.previousDigest, `${seal.previousDigest.slice(0, 63)}${seal.previousDigest.endsWith('0') ? '1' : '0'}`);
    const result = await verifyLedgerAudit(lines);
    expect(result).toMatchObject({ ok: false, firstBrokenSeal: 3, reason: 'CHAIN_BROKEN', line: i + 1 });
  });

  it('finds a seal line dropped with its rows: CHAIN_BROKEN at the seal after the gap', async () => {
    const lines = buildExport();
    const start = rowIndex(lines, 3) - 1;
    lines.splice(start, 2);
    expect(await verifyLedgerAudit(lines)).toMatchObject({ ok: false, firstBrokenSeal: 3, reason: 'CHAIN_BROKEN' });
  });

  it('finds a first seal whose previousDigest is not 64 zeros: CHAIN_BROKEN at seal 1', async () => {
    const lines = buildExport();
    lines[0] = lines[0].replace(ZERO, `${'0'.repeat(63)}1`);
    expect(await verifyLedgerAudit(lines)).toMatchObject({ ok: false, firstBrokenSeal: 1, reason: 'CHAIN_BROKEN' });
  });

  it('finds a line that is not JSON: MALFORMED, at the seal it is in and its line number', async () => {
    const lines = buildExport();
    const i = rowIndex(lines, 5);
    lines[i] = lines[i].slice(0, -1);
    expect(await verifyLedgerAudit(lines)).toMatchObject({ ok: false, firstBrokenSeal: 3, reason: 'MALFORMED', line: i + 1 });
  });

  it('finds rows before any seal line: MALFORMED, no seal', async () => {
    const lines = buildExport();
    expect(await verifyLedgerAudit(lines.slice(1))).toMatchObject({ ok: false, firstBrokenSeal: null, reason: 'MALFORMED', line: 1, seals: 0 });
  });

  it('allows a final newline but not an empty line in the middle', async () => {
    const lines = buildExport();
    expect(await verifyLedgerAudit([...lines, ''])).toMatchObject({ ok: true, seals: 3 });
    const i = rowIndex(lines, 3);
    expect(await verifyLedgerAudit([...lines.slice(0, i), '', ...lines.slice(i)])).toMatchObject({ ok: false, reason: 'MALFORMED', line: i + 1 });
  });
});
