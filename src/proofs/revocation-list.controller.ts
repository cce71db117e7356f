import { Controller, Get, Header, Param, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
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
  @Header('Cache-Control', 'public, max-age=60')
  async revokedLeases(@Param('organizationId') organizationId: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    if (!isUuid(organizationId)) {
      throw new AppError('NOT_FOUND', 'No such revocation list: the path ends with an organization id (a UUID), as in Organization.id');
    }
    const list = await this.lists.signedList(organizationId);
    // Set here, not by a decorator: a refusal is a JSON error body.
    void reply.header('content-type', 'application/jwt');
    return list;
  }
}
