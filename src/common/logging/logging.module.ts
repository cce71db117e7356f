import type { IncomingMessage } from 'node:http';
import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { APP_CONFIG, AppConfig } from '../../config/env';
import { requestIdFor } from './request-id';

/** Structured JSON logs (pino) with the request id on every line; credentials are redacted. */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.logLevel,
          genReqId: requestIdFor,
          redact: {
            paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]', '*.secret', '*.adminKey', '*.password'],
            censor: '[redacted]',
          },
          autoLogging: { ignore: (req: IncomingMessage) => (req.url ?? '').startsWith('/health') || req.url === '/metrics' },
          customProps: () => ({ instance: config.instanceId }),
          quietReqLogger: true,
        },
      }),
    }),
  ],
})
export class LoggingModule {}
