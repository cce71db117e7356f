import { hostname } from 'node:os';
import { Module, RequestMethod } from '@nestjs/common';
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
          // On every line from the root logger down, without pino-http's per-request child for customProps.
          base: { pid: process.pid, hostname: hostname(), instance: config.instanceId },
          quietReqLogger: true,
        },
        // Probes and scrapes every few seconds would drown the request log.
        exclude: [
          { method: RequestMethod.GET, path: 'health/{*path}' },
          { method: RequestMethod.GET, path: 'metrics' },
        ],
      }),
    }),
  ],
})
export class LoggingModule {}
