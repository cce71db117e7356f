import { Controller, Get, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ExportsAuthGuard } from './exports-auth.guard';
import { CsvExport, ExportsService } from './exports.service';

/** GET /exports/ledger.csv and /exports/focus.csv?from=&to= for ADMIN and VIEWER keys, streamed as CSV. */
@Controller('exports')
@UseGuards(ExportsAuthGuard)
export class ExportsController {
  constructor(private readonly exports: ExportsService) {}

  @Get('ledger.csv')
  async ledger(@Req() request: FastifyRequest, @Query('from') from: unknown, @Query('to') to: unknown, @Res() reply: FastifyReply): Promise<FastifyReply> {
    return send(reply, await this.exports.ledgerCsv(request.auth!, { from, to }));
  }

  @Get('focus.csv')
  async focus(@Req() request: FastifyRequest, @Query('from') from: unknown, @Query('to') to: unknown, @Res() reply: FastifyReply): Promise<FastifyReply> {
    return send(reply, await this.exports.focusCsv(request.auth!, { from, to }));
  }
}

// Fastify pipes the stream with backpressure and destroys it if the client goes away.
function send(reply: FastifyReply, csv: CsvExport): FastifyReply {
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${csv.filename}"`)
    .header('cache-control', 'no-store')
    .send(csv.body);
}
