import { Controller, Get, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ExportsAuthGuard } from './exports-auth.guard';
import { CsvExport, ExportsService } from './exports.service';

/** GET /exports/ledger.csv and /exports/focus.csv?from=&to= (CSV) and /exports/ledger-audit.jsonl?fromSequence=&toSequence= (JSON lines) for ADMIN and VIEWER keys, streamed. */
@Controller('exports')
@UseGuards(ExportsAuthGuard)
export class ExportsController {
  constructor(private readonly exports: ExportsService) {}

  @Get('ledger.csv')
  async ledger(@Req() request: FastifyRequest, @Query('from') from: unknown, @Query('to') to: unknown, @Res() reply: FastifyReply): Promise<FastifyReply> {
    return send(reply, await this.exports.ledgerCsv(request.auth!, { from, to }));
  }

  @Get('ledger-audit.jsonl')
  async ledgerAudit(
    @Req() request: FastifyRequest,
    @Query('fromSequence') fromSequence: unknown,
    @Query('toSequence') toSequence: unknown,
    @Res() reply: FastifyReply,
  ): Promise<FastifyReply> {
    return send(reply, await this.exports.ledgerAudit(request.auth!, { fromSequence, toSequence }), 'application/jsonl; charset=utf-8');
  }

  @Get('focus.csv')
  async focus(@Req() request: FastifyRequest, @Query('from') from: unknown, @Query('to') to: unknown, @Res() reply: FastifyReply): Promise<FastifyReply> {
    return send(reply, await this.exports.focusCsv(request.auth!, { from, to }));
  }
}

// Fastify pipes the stream with backpressure and destroys it if the client goes away.
function send(reply: FastifyReply, csv: CsvExport, contentType = 'text/csv; charset=utf-8'): FastifyReply {
  return reply
    .header('content-type', contentType)
    .header('content-disposition', `attachment; filename="${csv.filename}"`)
    .header('cache-control', 'no-store')
    .send(csv.body);
}
