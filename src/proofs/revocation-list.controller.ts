import { Controller, Get, Header, Param } from '@nestjs/common';
import { AppError } from '../common/errors/app-error';
import { isUuid } from '../common/validation/validate';
import { RevocationListService } from './revocation-list.service';

/**
 * GET /.well-known/revoked-leases/<organization id>: the organization's revoked borrowed
 * leases as a JWS (application/jwt) signed with a key of /.well-known/jwks.json. No
 * authentication: tools fetch it whenever they are online, as they fetch the keys.
 */
@Controller('.well-known')
export class RevocationListController {
  constructor(private readonly lists: RevocationListService) {}

  @Get('revoked-leases/:organizationId')
  @Header('Content-Type', 'application/jwt')
  @Header('Cache-Control', 'public, max-age=60')
  async revokedLeases(@Param('organizationId') organizationId: string): Promise<string> {
    if (!isUuid(organizationId)) {
      throw new AppError('NOT_FOUND', 'No such revocation list: the path ends with an organization id (a UUID), as in Organization.id');
    }
    return this.lists.signedList(organizationId);
  }
}
