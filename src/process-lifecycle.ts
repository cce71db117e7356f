import { Logger } from '@nestjs/common';

/**
 * Nest closes the application on SIGTERM/SIGINT (enableShutdownHooks): the server stops
 * accepting, in-flight requests and jobs finish, connections close. This bounds that: a
 * shutdown still running after the grace period exits anyway, so an orchestrator's
 * SIGKILL is never the only way out.
 */
export function boundShutdown(graceSeconds: number): void {
  const logger = new Logger('Lifecycle');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.log(`${signal} received; draining`);
      setTimeout(() => {
        logger.error(`Shutdown took longer than ${graceSeconds} s; exiting`);
        process.exit(1);
      }, graceSeconds * 1000).unref();
    });
  }
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'Unhandled promise rejection');
  });
}
