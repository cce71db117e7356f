import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { GqlArgumentsHost, GqlContextType } from '@nestjs/graphql';
import type { FastifyReply } from 'fastify';
import { GraphQLError } from 'graphql';
import { AppError, ErrorCode, errorBody, httpStatusFor } from './app-error';
import { isDependencyDown } from './dependency-errors';

/**
 * The one place that turns thrown errors into answers. An AppError keeps its code and
 * extensions; Nest's own HTTP exceptions (a route that does not exist, a bad REST
 * parameter) keep their status; anything else is an internal fault: logged with its stack,
 * answered with a generic message so no internals leak.
 */
@Catch()
export class AppExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType<GqlContextType>() === 'graphql') {
      return this.toGraphQLError(exception, GqlArgumentsHost.create(host).getInfo<{ fieldName?: string } | undefined>()?.fieldName);
    }
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { status, body, retryAfterSeconds } = this.toHttp(exception);
    // A refusal for now (rate limit, too many exports at once, a dependency down) says when
    // to come back in the header HTTP clients and proxies read, as in its extensions.
    if (retryAfterSeconds !== undefined) reply.header('retry-after', String(retryAfterSeconds));
    return reply.status(status).send(body);
  }

  private toGraphQLError(exception: unknown, fieldName?: string): GraphQLError {
    if (exception instanceof GraphQLError) return exception;
    exception = this.dependencyDownAsUnavailable(exception);
    if (exception instanceof AppError) {
      return new GraphQLError(exception.message, { extensions: { ...exception.extensions, code: exception.code } });
    }
    this.logger.error({ err: exception, field: fieldName }, 'Unexpected fault while resolving a field');
    return new GraphQLError('Internal server error', { extensions: { code: 'INTERNAL_SERVER_ERROR' satisfies ErrorCode } });
  }

  private dependencyDownAsUnavailable(exception: unknown): unknown {
    if (exception instanceof AppError || !isDependencyDown(exception)) return exception;
    this.logger.warn({ err: exception }, 'A dependency is unreachable');
    return AppError.unavailable('A storage dependency is unreachable; retry shortly', 2);
  }

  private toHttp(exception: unknown): { status: number; body: unknown; retryAfterSeconds?: number } {
    exception = this.dependencyDownAsUnavailable(exception);
    if (exception instanceof AppError) {
      const retryAfterSeconds = typeof exception.extensions.retryAfterSeconds === 'number' ? exception.extensions.retryAfterSeconds : undefined;
      return { status: httpStatusFor(exception.code), body: errorBody(exception.code, exception.message, exception.extensions), retryAfterSeconds };
    }
    if (exception instanceof HttpException && exception.getStatus() < 500) {
      const status = exception.getStatus();
      const code: ErrorCode = status === 404 ? 'NOT_FOUND' : status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'FORBIDDEN' : 'BAD_REQUEST';
      return { status, body: errorBody(code, exception.message) };
    }
    this.logger.error({ err: exception }, 'Unexpected fault in an HTTP route');
    return { status: 500, body: errorBody('INTERNAL_SERVER_ERROR', 'Internal server error') };
  }
}
