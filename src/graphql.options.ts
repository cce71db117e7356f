import { Logger } from '@nestjs/common';
import { MercuriusDriverConfig } from '@nestjs/mercurius';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  DocumentNode,
  getOperationAST,
  GraphQLError,
  GraphQLSchema,
  Kind,
  NoSchemaIntrospectionCustomRule,
  specifiedRules,
  validate,
  ValidationRule,
} from 'graphql';
import { MercuriusContext } from 'mercurius';
import type { AuthContext, GqlContext } from './auth/auth-context';
import { RequestAuthService } from './auth/request-auth.service';
import { SubscriptionSocketsService, TrackedConnection, TrackedSocket } from './auth/subscription-sockets.service';
import { AppError } from './common/errors/app-error';
import { formatExecution } from './common/errors/error-formatter';
import { GraphqlSourceCheck } from './common/graphql/source-limits';
import { assertCost, maxAliasesRule, maxDepthRule, maxRootFieldsRule } from './common/graphql/query-limits';
import { MetricsService } from './common/metrics/metrics.service';
import { MAX_PAGE_SIZE } from './common/validation/validate';
import { AppConfig } from './config/env';

declare module 'fastify' {
  interface FastifyRequest {
    auth?: AuthContext;
  }
}

interface TimedContext extends MercuriusContext {
  tpStart?: bigint;
  tpOperation?: { type: string; name: string };
}

const logger = new Logger('GraphQL');

/**
 * Mercurius on Fastify (measured fastest of the NestJS drivers on this machine; see
 * bench/). HTTP requests arrive here already authenticated by the onRequest hook of
 * app.setup.ts; WebSocket connections authenticate in connection_init.
 */
export function graphqlOptions(
  config: AppConfig,
  requestAuth: RequestAuthService,
  metrics: MetricsService,
  sockets: SubscriptionSocketsService,
): MercuriusDriverConfig {
  const rules: ValidationRule[] = [
    maxDepthRule(config.graphqlMaxDepth),
    maxAliasesRule(config.graphqlMaxAliases),
    maxRootFieldsRule(config.graphqlMaxRootFields),
  ];
  if (!config.graphqlIntrospection) rules.push(NoSchemaIntrospectionCustomRule);
  const subscriptionRules = [...specifiedRules, ...rules];
  const sources = new GraphqlSourceCheck(config.graphqlMaxTokens);
  const logInternal = (error: unknown) => logger.error({ err: error }, 'Unexpected fault in a GraphQL request');
  return {
    autoSchemaFile: true,
    sortSchema: true,
    path: '/graphql',
    graphiql: false,
    // Compile an operation with graphql-jit from its second run on: variable coercion and
    // execution become generated code (a 500-event recordComputeUsage batch spent most of its
    // CPU coercing variables). Every test runs with it.
    jit: 1,
    allowBatchedQueries: false,
    fieldResolverEnhancers: ['guards', 'filters'],
    buildSchemaOptions: { dateScalarMode: 'isoDate', numberScalarMode: 'integer' },
    validationRules: rules,
    context: (request: FastifyRequest, reply: FastifyReply): GqlContext => ({
      auth: request.auth,
      requestId: String(request.id),
      signal: disconnectSignal(reply),
    }),
    errorFormatter: (execution, context) => {
      const formatted = formatExecution(execution, logInternal);
      observe(metrics, context as TimedContext, 'error');
      return formatted;
    },
    subscription: {
      keepAlive: 15_000,
      // A plain function: Mercurius calls it as a method of the connection, which we track.
      async onConnect(this: TrackedConnection, { payload }: { payload?: Record<string, unknown> }) {
        try {
          const auth = await requestAuth.authenticate(payload?.authorization ?? payload?.Authorization);
          sockets.track(this, auth);
          return { auth, socket: this.socket };
        } catch (err) {
          if (err instanceof AppError) return false;
          throw err;
        }
      },
    },
    hooks: {
      preParsing: async (_schema: GraphQLSchema, source: string) => sources.assert(source),
      preExecution: async (schema, document, context, variables) => {
        const operation = getOperationAST(document);
        const timed = context as TimedContext;
        timed.tpStart = process.hrtime.bigint();
        timed.tpOperation = {
          type: operation?.operation ?? 'unknown',
          name: operation?.name?.value ?? firstRootField(operation),
        };
        // Over HTTP, Mercurius would run a subscription's resolve function once, with no event
        // (whichever operation of the document operationName picks).
        if (document.definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === 'subscription'))
          throw new GraphQLError('Subscriptions run over a WebSocket on /graphql (graphql-transport-ws)', { extensions: { code: 'BAD_REQUEST' } });
        assertCost({ schema, document, variables: variables as Record<string, unknown> | undefined, max: config.graphqlMaxCost });
      },
      // Mercurius runs no validation for subscriptions: the same rules and limits as for
      // queries apply here, before a subscription holds a place on its socket.
      preSubscriptionExecution: async (schema: GraphQLSchema, document: DocumentNode, context: SubscriptionContext, id: string) => {
        const errors = validate(schema, document, subscriptionRules);
        if (errors.length > 0) throw withContractCode(errors[0]);
        assertCost({ schema, document, max: config.graphqlMaxCost, unknownFirst: MAX_PAGE_SIZE });
        try {
          sockets.open(context.socket, id);
        } catch (err) {
          throw err instanceof AppError ? new GraphQLError(err.message, { extensions: { ...err.extensions, code: err.code } }) : err;
        }
      },
      onSubscriptionEnd: async (context: SubscriptionContext, id: string) => {
        sockets.end(context.socket, id);
      },
      onResolution: async (execution, context) => {
        if (!execution.errors) observe(metrics, context as TimedContext, 'ok');
      },
    },
  } as MercuriusDriverConfig;
}

interface SubscriptionContext {
  socket?: TrackedSocket;
}

/** A validation error as the HTTP path answers it: our limits keep their code, the standard rules' get GRAPHQL_VALIDATION_FAILED. */
function withContractCode(error: GraphQLError): GraphQLError {
  const code = typeof error.extensions.code === 'string' ? error.extensions.code : 'GRAPHQL_VALIDATION_FAILED';
  return new GraphQLError(error.message, { nodes: error.nodes, extensions: { ...error.extensions, code } });
}

function firstRootField(operation: ReturnType<typeof getOperationAST>): string {
  const field = operation?.selectionSet.selections.find((s) => s.kind === 'Field');
  return field && field.kind === 'Field' ? field.name.value : 'anonymous';
}

function observe(metrics: MetricsService, context: TimedContext | undefined, outcome: string): void {
  if (!context?.tpStart || !context.tpOperation) return;
  const seconds = Number(process.hrtime.bigint() - context.tpStart) / 1e9;
  metrics.observeOperation({ ...context.tpOperation, outcome }, seconds);
  context.tpStart = undefined;
}

/** Aborts if the connection closes before the answer is written: the client went away. */
function disconnectSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableEnded) controller.abort();
  });
  return controller.signal;
}
