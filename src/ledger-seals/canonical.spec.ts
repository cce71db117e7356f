import { createHash } from 'node:crypto';
import { CANONICAL_COLUMNS, CANONICAL_LINE_SQL, SealDigest, ZERO_DIGEST } from './canonical';

describe('the canonical encoding of a ledger row', () => {
  it('builds the line from every column in order, free text through to_json, and no other column', () => {
    const keys = [...CANONICAL_LINE_SQL.matchAll(/'[{,]"([a-z_]+)":'/g)].map((m) => m[1]);
    expect(keys).toEqual([...CANONICAL_COLUMNS]);
    expect(CANONICAL_LINE_SQL).not.toContain('tx_id');
    for (const column of ['event_key', 'provider', 'model']) expect(CANONICAL_LINE_SQL).toContain(`to_json(e.${column})`);
    expect(CANONICAL_LINE_SQL).toContain(`replace(replace(e.recorded_at::text, ' ', 'T'), '+00', 'Z')`);
  });

  it('digests previousDigest followed by a newline and each line', () => {
    const digest = new SealDigest(ZERO_DIGEST);
    digest.add('{"id":"1"}');
    digest.add('{"id":"2"}');
    expect(digest.rows).toBe(2);
    expect(digest.hex()).toBe(createHash('sha256').update(`${ZERO_DIGEST}\n{"id":"1"}\n{"id":"2"}`).digest('hex'));
  });
});
