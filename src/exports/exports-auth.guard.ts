import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Role } from '../auth/role';
import { RequestAuthService } from '../auth/request-auth.service';
import { AppError } from '../common/errors/app-error';

const READERS: Role[] = ['ADMIN', 'VIEWER'];

/**
 * The exports are plain HTTP routes, which the GraphQL guard lets through, so they
 * authenticate here the same way /graphql does (Bearer key, rate limit before the lookup)
 * and admit ADMIN and VIEWER keys, as the contract says.
 */
@Injectable()
export class ExportsAuthGuard implements CanActivate {
  constructor(private readonly requestAuth: RequestAuthService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const auth = await this.requestAuth.authenticate(request.headers.authorization);
    if (!READERS.includes(auth.role)) throw new AppError('FORBIDDEN', `A ${auth.role} key may not export the ledger; it needs one of: ${READERS.join(', ')}`);
    request.auth = auth;
    return true;
  }
}
