import { GraphQLError, Kind } from 'graphql';
import { formatExecution } from './error-formatter';

const node = { kind: Kind.NAME, value: 'x', loc: undefined } as never;

describe('formatExecution', () => {
  const noLog = () => undefined;

  it('keeps a known code and answers 200 when the operation ran', () => {
    const error = new GraphQLError('Pool p has 3 of 20 credits free', { path: ['checkout'], extensions: { code: 'POOL_EXHAUSTED', available: 3 } });
    const out = formatExecution({ data: null, errors: [error] }, noLog);
    expect(out.statusCode).toBe(200);
    expect(out.response.errors[0].extensions).toEqual({ code: 'POOL_EXHAUSTED', available: 3 });
  });

  it('marks a schema validation error GRAPHQL_VALIDATION_FAILED with 400', () => {
    const out = formatExecution({ errors: [new GraphQLError('Cannot query field "x"', { nodes: [node] })] }, noLog);
    expect(out.statusCode).toBe(400);
    expect(out.response.errors[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('names the path of a bad variable in field', () => {
    const error = new GraphQLError('Variable "$input" got invalid value -1 at "input.cost"; Int cannot represent it.');
    const out = formatExecution({ errors: [error] }, noLog);
    expect(out.response.errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'input.cost' });
  });

  it('names a missing variable in field', () => {
    const out = formatExecution({ errors: [new GraphQLError('Variable "$id" of required type "ID!" was not provided.')] }, noLog);
    expect(out.response.errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'id' });
  });

  it('turns a Fastify transport error into BAD_REQUEST with its status', () => {
    const original = Object.assign(new Error('Request body is too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
    const out = formatExecution({ errors: [new GraphQLError(original.message, { originalError: original })] }, noLog);
    expect(out.statusCode).toBe(413);
    expect(out.response.errors[0].extensions?.code).toBe('BAD_REQUEST');
  });

  it('hides an unexpected fault behind INTERNAL_SERVER_ERROR and logs it', () => {
    const logged: unknown[] = [];
    const original = new Error('connection string postgres://u:secret@db');
    const out = formatExecution({ data: { a: null }, errors: [new GraphQLError(original.message, { path: ['a'], originalError: original })] }, (e) => logged.push(e));
    expect(out.response.errors[0]).toEqual({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' }, path: ['a'] });
    expect(JSON.stringify(out)).not.toContain('secret');
    expect(logged).toEqual([original]);
  });

  it('unwraps the list of errors Mercurius wraps validation failures in', () => {
    const wrapper = Object.assign(new Error('Graphql validation error'), {
      code: 'MER_ERR_GQL_VALIDATION',
      errors: [new GraphQLError('too deep', { extensions: { code: 'QUERY_TOO_COMPLEX' } }), new GraphQLError('Unknown field', { nodes: [node] })],
    });
    const out = formatExecution({ errors: [new GraphQLError(wrapper.message, { originalError: wrapper })] }, noLog);
    expect(out.response.errors.map((e) => e.extensions?.code)).toEqual(['QUERY_TOO_COMPLEX', 'GRAPHQL_VALIDATION_FAILED']);
    expect(out.statusCode).toBe(400);
  });
});
