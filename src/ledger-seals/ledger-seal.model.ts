import { Field, Int, ObjectType } from '@nestjs/graphql';

@ObjectType('LedgerSeal', {
  description:
    "A seal over the organization's ledger rows: a SHA-256 chained to the previous seal's, which an auditor recomputes from GET /exports/ledger-audit.jsonl (docs/ledger-audit.md).",
})
export class LedgerSeal {
  @Field(() => Int, { description: '1, 2, 3, ... per organization.' })
  sequence!: number;

  @Field(() => Int, {
    description: 'Ledger rows this seal covers: every row recorded after the previous seal and before this one; no row falls between two seals.',
  })
  rows!: number;

  @Field(() => Date, { nullable: true, description: 'The earliest recordedAt among its rows.' })
  firstRecordedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'The latest recordedAt among its rows.' })
  lastRecordedAt!: Date | null;

  @Field({ description: 'Hex; 64 zeros for the first seal.' })
  previousDigest!: string;

  @Field({ description: 'Hex SHA-256 over previousDigest and the covered rows in their canonical encoding (docs/ledger-audit.md).' })
  digest!: string;

  @Field({ description: 'When the seal was made.' })
  sealedAt!: Date;
}

@ObjectType('LedgerVerification', { description: 'The seals recomputed from the rows in PostgreSQL.' })
export class LedgerVerification {
  @Field({ description: 'Every seal checked matches its rows and the chain.' })
  ok!: boolean;

  @Field(() => Int, { description: 'Seals recomputed.' })
  sealsChecked!: number;

  @Field(() => Int, { description: 'Rows read for them.' })
  rowsChecked!: number;

  @Field(() => Int, { nullable: true, description: 'The first seal whose digest no longer matches its rows or chain.' })
  firstBrokenSeal!: number | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Why: DIGEST_MISMATCH (a row or the digest changed), CHAIN_BROKEN (previousDigest is not the seal before it, or a seal is missing), ROWS_MISSING (fewer rows than sealed: deleted), ROWS_ADDED (more).',
  })
  reason!: string | null;
}
