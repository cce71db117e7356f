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
          customProps: () => ({ instance: config.instanceId }),
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
