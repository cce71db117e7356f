import type { Readable } from 'node:stream';
import { Controller, Get, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ExportsAuthGuard } from './exports-auth.guard';
import { ExportsService, ExportWindow } from './exports.service';

/** GET /exports/ledger.csv and /exports/focus.csv?from=&to= for ADMIN and VIEWER keys, streamed as CSV. */
@Controller('exports')
@UseGuards(ExportsAuthGuard)
export class ExportsController {
  constructor(private readonly exports: ExportsService) {}

  @Get('ledger.csv')
  async ledger(@Req() request: FastifyRequest, @Query('from') from: unknown, @Query('to') to: unknown, @Res() reply: FastifyReply): Promise<FastifyReply> {
    const window = this.exports.window(from, to);
    return send(reply, 'ledger', window, await this.exports.ledgerCsv(request.auth!, window));
  }

  @Get('focus.csv')
  async focus(@Req() request: FastifyRequest, @Query('from') from: unknown, @Query('to') to: unknown, @Res() reply: FastifyReply): Promise<FastifyReply> {
    const window = this.exports.window(from, to);
    return send(reply, 'focus', window, await this.exports.focusCsv(request.auth!, window));
  }
}

// Fastify pipes the stream with backpressure and destroys it if the client goes away.
function send(reply: FastifyReply, name: string, window: ExportWindow, csv: Readable): FastifyReply {
  const day = (d: Date) => d.toISOString().slice(0, 10);
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${name}-${day(window.from)}-${day(window.to)}.csv"`)
    .header('cache-control', 'no-store')
    .send(csv);
}
