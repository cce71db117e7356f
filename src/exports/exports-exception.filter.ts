import { ArgumentsHost, Catch } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { AppError } from '../common/errors/app-error';
import { AppExceptionFilter } from '../common/errors/app-exception.filter';

/**
 * The application's filter, plus a `retry-after` header (seconds, as the extensions say) on
 * an export refused for now: too many exports at once, or the key's rate limit. The body
 * stays the one every refused request gets, `{"errors":[{"message","extensions":{"code",...}}]}`.
 */
@Catch()
export class ExportsExceptionFilter extends AppExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): unknown {
    if (exception instanceof AppError && typeof exception.extensions.retryAfterSeconds === 'number') {
      host.switchToHttp().getResponse<FastifyReply>().header('retry-after', String(exception.extensions.retryAfterSeconds));
    }
    return super.catch(exception, host);
  }
}
