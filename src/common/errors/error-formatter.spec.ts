import { GraphQLError, Kind } from 'graphql';
import { AppError } from './app-error';
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
    const out = formatExecution({ data: { a: null }, errors: [new GraphQLError(original.message, { path: ['a'], originalError: original })] }, (e) =>
      logged.push(e),
    );
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

  it('answers a Mercurius request error (a request without a query) with BAD_REQUEST and its status', () => {
    const original = Object.assign(new Error('Unknown query'), { code: 'MER_ERR_GQL_PERSISTED_QUERY_NOT_FOUND', statusCode: 400 });
    const out = formatExecution({ errors: [new GraphQLError(original.message, { originalError: original })] }, noLog);
    expect(out.statusCode).toBe(400);
    expect(out.response.errors[0]).toEqual({ message: 'Unknown query', extensions: { code: 'BAD_REQUEST' } });
  });

  it('answers the validator giving up (too many errors, too many overlapping fields) with a contract code', () => {
    const tooMany = formatExecution({ errors: [new GraphQLError('Too many validation errors, error limit reached. Validation aborted.')] }, noLog);
    expect([tooMany.statusCode, tooMany.response.errors[0].extensions?.code]).toEqual([400, 'GRAPHQL_VALIDATION_FAILED']);
    const aborted = formatExecution({ errors: [new GraphQLError('Validation aborted.')] }, noLog);
    expect([aborted.statusCode, aborted.response.errors[0].extensions?.code]).toEqual([400, 'QUERY_TOO_COMPLEX']);
  });

  it('answers an operationName that selects no operation with BAD_REQUEST', () => {
    for (const message of [
      'Must provide operation name if query contains multiple operations.',
      'Unknown operation named "Nope".',
      'Must provide an operation.',
    ]) {
      const out = formatExecution({ errors: [new GraphQLError(message)] }, noLog);
      expect([out.statusCode, out.response.errors[0].extensions?.code]).toEqual([400, 'BAD_REQUEST']);
    }
  });

  it('answers GET variables that are not a JSON object with BAD_REQUEST', () => {
    const notJson = formatExecution(
      { errors: [new GraphQLError('Unexpected token', { originalError: new SyntaxError("Expected property name or '}' in JSON at position 1") })] },
      noLog,
    );
    const notObject = formatExecution(
      { errors: [new GraphQLError('Variables must be provided as an Object where each property is a variable value.')] },
      noLog,
    );
    expect([notJson, notObject].map((o) => [o.statusCode, o.response.errors[0].extensions?.code])).toEqual([
      [400, 'BAD_REQUEST'],
      [400, 'BAD_REQUEST'],
    ]);
  });

  it('keeps the code of an AppError thrown where the filter does not reach', () => {
    const original = new AppError('NOT_FOUND', 'No pool with id p in your organization', { field: 'poolId' });
    const out = formatExecution({ data: null, errors: [new GraphQLError(original.message, { path: ['poolChanged'], originalError: original })] }, noLog);
    expect(out.response.errors[0]).toEqual({ message: original.message, path: ['poolChanged'], extensions: { field: 'poolId', code: 'NOT_FOUND' } });
    expect(out.statusCode).toBe(200);
  });
});
