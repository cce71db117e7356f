import { DynamicModule, Global, Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller';
import { MetricsListener } from './metrics.listener';
import { MetricsService } from './metrics.service';

/**
 * The process's Prometheus registry, and where it is served: pick one of the two.
 * The API serves it on a port of its own, never on the public one (the metrics name every
 * organization's pools); the worker, which serves nothing public, beside its health routes.
 */
@Global()
@Module({
  providers: [MetricsService],
  exports: [MetricsService],
})
export class MetricsModule {
  /** GET /metrics on METRICS_PORT, a listener apart from the application's. */
  static onOwnPort(): DynamicModule {
    return { module: MetricsModule, providers: [MetricsListener] };
  }

  /** GET /metrics among the application's own routes. */
  static onAppPort(): DynamicModule {
    return { module: MetricsModule, controllers: [MetricsController] };
  }
}
