import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import { AppError } from '../common/errors/app-error';
import type { AuthContext, GqlContext } from './auth-context';

/** The caller of the current GraphQL operation; the guard has already made sure there is one. */
export const CurrentAuth = createParamDecorator((_data: unknown, context: ExecutionContext): AuthContext => {
  const auth = GqlExecutionContext.create(context).getContext<GqlContext>().auth;
  if (!auth) throw new AppError('UNAUTHENTICATED', 'Send Authorization: Bearer <api key>');
  return auth;
});
