import { hostname } from 'node:os';
import { Module, RequestMethod } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { APP_CONFIG, AppConfig } from '../../config/env';
import { requestIdFor, requestLine } from './request-id';

/** Structured JSON logs (pino) with the request id on every line; credentials are redacted. */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.logLevel,
          genReqId: requestIdFor,
          // pino-http binds the request to a child logger as each request arrives, so this
          // runs on every request even when nothing is logged: keep it to what a request line
          // needs (no headers: they are where credentials travel).
          serializers: { req: requestLine },
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
