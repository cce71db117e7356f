import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema } from 'graphql';
import { printServedSchema } from '../../src/graphql-schema';

/**
 * schema.gql is what client authors read and what a review diffs, so it must be the schema
 * the code serves. When this fails, the fix is `npm run build` (it rewrites schema.gql) and
 * committing the file with the change; npm test builds with --keep-schema so it cannot hide this.
 */
const committed = readFileSync(join(__dirname, '..', '..', 'schema.gql'), 'utf8');

describe('schema.gql', () => {
  it('is the schema the code builds', async () => {
    expect(committed).toBe(await printServedSchema());
  }, 60_000);

  it('is a schema with the root operations of the contract', () => {
    const schema = buildSchema(committed);
    expect(schema.getQueryType()?.getFields()).toHaveProperty('quote');
    expect(schema.getMutationType()?.getFields()).toHaveProperty('checkout');
    expect(schema.getSubscriptionType()?.getFields()).toHaveProperty('poolChanged');
  });
});
