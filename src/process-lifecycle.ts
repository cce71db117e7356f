import { INestApplicationContext, Logger } from '@nestjs/common';

/**
 * Graceful shutdown on SIGTERM/SIGINT: app.close() stops accepting work, lets in-flight
 * requests and jobs finish, runs every shutdown hook (connections close), and the process
 * exits 0. A shutdown still running after the grace period exits 1, so an orchestrator's
 * SIGKILL is never the only way out.
 */
export function closeOnSignals(app: INestApplicationContext, graceSeconds: number): void {
  const logger = new Logger('Lifecycle');
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.log(`${signal} received; draining`);
    setTimeout(() => {
      logger.error(`Shutdown took longer than ${graceSeconds} s; exiting`);
      process.exit(1);
    }, graceSeconds * 1000).unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'Shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'Unhandled promise rejection'));
}
