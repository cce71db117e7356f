import { SetMetadata } from '@nestjs/common';
import type { Role } from './role';

export const ROLES_KEY = 'tokenpool:roles';

/**
 * The roles that may call a root operation (the contract's "Who may do what"). A root
 * operation without @Roles is refused to everyone, so a forgotten decorator fails closed.
 */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES_KEY, roles);
