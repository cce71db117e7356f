import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlContextType, GqlExecutionContext } from '@nestjs/graphql';
import type { GraphQLResolveInfo } from 'graphql';
import type { Role } from './role';
import { AppError } from '../common/errors/app-error';
import type { GqlContext } from './auth-context';
import { ROLES_KEY } from './roles.decorator';

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

/**
 * Runs for every GraphQL root field and field resolver. Every operation needs an
 * authenticated key; a root field needs one of the roles its @Roles names; a field resolver
 * with @Roles (e.g. an admin-only field) is checked the same way.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType<GqlContextType>() !== 'graphql') return true;
    const gql = GqlExecutionContext.create(context);
    const auth = gql.getContext<GqlContext>().auth;
    if (!auth) throw new AppError('UNAUTHENTICATED', 'Send Authorization: Bearer <api key>');
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, [context.getHandler(), context.getClass()]);
    const info = gql.getInfo<GraphQLResolveInfo>();
    const isRoot = ROOT_TYPES.has(info.parentType.name);
    if (roles === undefined) {
      if (isRoot) throw new AppError('FORBIDDEN', `${info.fieldName} is not open to any role`);
      return true;
    }
    if (!roles.includes(auth.role)) {
      throw new AppError('FORBIDDEN', `A ${auth.role} key may not use ${info.fieldName}; it needs one of: ${roles.join(', ')}`);
    }
    return true;
  }
}
